"""luigi_airbyte.transforms"""
