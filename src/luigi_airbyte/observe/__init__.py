"""luigi_airbyte.observe"""
