"""luigi_airbyte.cli"""
