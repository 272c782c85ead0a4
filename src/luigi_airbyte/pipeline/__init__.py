"""luigi_airbyte.pipeline"""
