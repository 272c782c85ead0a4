"""luigi_airbyte.testing"""
