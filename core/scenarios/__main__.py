"""Prints every declared scenario as a Mermaid state diagram: ``python -m core.scenarios``."""

from core.scenarios import all_scenarios

for scenario in all_scenarios():
    print(f"## {scenario.name}\n\n```mermaid\n{scenario.to_mermaid()}```\n")
