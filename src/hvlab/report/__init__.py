"""`hvlab report`: the side-by-side KVM/Xen report from the files the `compare` role collects.

load reads and checks the results dir, compare and stats turn runs into figures, fairness and
probes describe the set-up, view assembles it all once, and render_html, render_markdown and
export write it out; write ties them together.
"""
