"""luigi_airbyte.sandbox"""
