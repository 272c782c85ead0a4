"""luigi_airbyte.store"""
