"""luigi_airbyte.checks"""
