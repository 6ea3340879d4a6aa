"""report.html: one self-contained page (inline CSS and SVG, no script, no external URL).

The template lives in this module rather than in a package data file, so an installed hvlab
can never lack it. Autoescaping is on: every name and error text comes from input files.
"""

from jinja2 import Environment, StrictUndefined
from markupsafe import Markup

from hvlab.report.charts import COLOURS
from hvlab.report.claims import FACTS, HELD, NOT_HELD, UNMEASURED
from hvlab.report.stats import CONFIDENCE
from hvlab.report.view import CLAIMS_INTRO, CLAIMS_TITLE, EMULATED_BANNER, HOW_TO_READ, Report

CSS = """
:root { --kvm: %(kvm)s; --xen: %(xen)s; --ink: #212529; --muted: #5c636a; --line: #dee2e6; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink);
       background: #f8f9fa; }
main { max-width: 1240px; margin: 0 auto; padding: 24px 28px 64px; background: #fff; }
h1 { margin: 0; font-size: 28px; } h1 .kvm { color: var(--kvm); } h1 .xen { color: var(--xen); }
h2 { margin-top: 40px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { margin-top: 32px; } h3 code { font-size: 0.9em; }
.muted, .generated { color: var(--muted); }
.verdict { font-weight: 600; } .verdict.held { color: #2b8a3e; } .verdict.not-held { color: #c92a2a; }
.verdict.unmeasured { color: #e67700; } .verdict.facts { color: var(--muted); }
.claim dt { font-weight: 600; } .claim dd { overflow-wrap: anywhere; }
.claim pre { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; }
.banner { margin: 16px 0; padding: 12px 16px; border-radius: 6px; border-left: 6px solid; }
.banner.emulated { background: #fff4e6; border-color: #e8590c; font-size: 17px; }
.banner.problems { background: #fff5f5; border-color: #c92a2a; }
.warning { margin: 6px 0; padding: 6px 12px; background: #fff9db; border-left: 4px solid #f08c00; }
nav ul { display: flex; flex-wrap: wrap; gap: 4px 18px; padding: 0; list-style: none; }
table { border-collapse: collapse; margin: 12px 0; font-size: 14px; }
th, td { padding: 5px 8px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
td { white-space: nowrap; }
td.failed, td.warn, td.long, td.reading { white-space: normal; overflow-wrap: anywhere; min-width: 10em; }
th { background: #f1f3f5; }
th.kvm { border-bottom: 3px solid var(--kvm); } th.xen { border-bottom: 3px solid var(--xen); }
td.label { font-weight: 600; }
td.kvm, .kvm-text { color: var(--kvm); font-weight: 600; } td.xen, .xen-text { color: var(--xen); font-weight: 600; }
td.differs { background: #ffe3e3; font-weight: 600; }
td.pv { background: #e6fcf5; }
td.failed { color: #c92a2a; }
td.warn, td.emulated, td.noisy { color: #e67700; } td.emulated { font-weight: 600; }
td.outlier { color: #c92a2a; font-weight: 600; } th.stat, td.stat { background: #fff9db; font-weight: 600; }
.table-wrap { overflow-x: auto; }
svg.chart { display: block; max-width: 100%%; height: auto; margin: 8px 0; }
.key span { display: inline-block; padding: 0 8px; margin-right: 6px; border-radius: 4px; }
.key .differs { background: #ffe3e3; } .key .pv { background: #e6fcf5; }
@media (max-width: 600px) { main { padding: 12px 12px 48px; } h1 { font-size: 24px; } }
"""

TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>hvlab report: KVM vs Xen</title>
<style>{{ css }}</style>
</head>
<body><main>
{%- macro table(t) -%}
{% if t.rows %}<div class="table-wrap"><table>
{% if t.headers | map(attribute="text") | select | list %}
<thead><tr>{% for h in t.headers %}<th{% if h.css %} class="{{ h.css }}"{% endif %}>{{ h.text }}</th>
{%- endfor %}</tr></thead>{% endif %}
<tbody>
{% for row in t.rows %}<tr>{% for c in row %}<td{% if c.css %} class="{{ c.css }}"{% endif %}
{%- if c.hint %} title="{{ c.hint }}"{% endif %}>{% if c.link %}<a href="{{ c.link }}">{{ c.text }}</a>
{%- else %}{{ c.text }}{% endif %}</td>{% endfor %}</tr>
{% endfor %}</tbody></table></div>{% else %}<p class="muted">None.</p>{% endif %}
{%- endmacro %}
<header>
<h1><span class="kvm">KVM</span> vs <span class="xen">Xen</span></h1>
<p class="generated">hvlab {{ r.version }} report · generated {{ r.generated }}</p>
</header>
{% if r.emulated_hosts %}
<div class="banner emulated" role="alert"><strong>{{ emulated_banner }}.</strong>
Emulated host(s): {{ r.emulated_hosts | join(", ") }}. Compare the two stacks with each other here,
never with figures from real hardware.</div>
{% endif %}
{% if r.problems %}
<div class="banner problems"><strong>{{ r.problems | length }} problem(s) with the input.</strong>
See <a href="#problems">Problems</a>; everything that could be read is shown.</div>
{% endif %}
<nav><ul>
<li><a href="#claims">Claims</a></li>
<li><a href="#lab">Lab</a></li><li><a href="#how">How to read this</a></li><li><a href="#summary">Summary</a></li>
{% for w in r.workloads %}<li><a href="#{{ w.anchor }}">{{ w.name }}</a></li>{% endfor %}
<li><a href="#fairness">Fairness</a></li><li><a href="#probes">Probes</a></li>
<li><a href="#failed">Failed runs</a></li><li><a href="#problems">Problems</a></li>
</ul></nav>

<section id="claims"><h2>{{ claims_title }}</h2>
<p>{{ claims_intro }}</p>
<div class="table-wrap"><table>
<thead><tr><th>#</th><th>claim</th><th>verdict</th><th>why</th></tr></thead>
<tbody>
{% for c in r.claims %}<tr><td>{{ c.number }}</td><td><a href="#claim-{{ c.claim.id }}">{{ c.claim.text }}</a></td>
<td class="verdict {{ verdict_css[c.verdict] }}">{{ c.verdict }}</td><td>{{ c.why }}</td></tr>
{% endfor %}</tbody></table></div>
{% for c in r.claims %}
<div class="claim" id="claim-{{ c.claim.id }}"><h3>{{ c.number }}. {{ c.claim.text }}</h3>
<p><span class="verdict {{ verdict_css[c.verdict] }}">{{ c.verdict }}</span>: {{ c.why }}
{%- if c.source %} <span class="muted">(from {{ c.source }})</span>{% endif %}
{%- if c.caveat %} <span class="warn">⚠ {{ c.caveat }}.</span>{% endif %}</p>
<dl><dt>Experiment</dt><dd>{{ c.claim.experiment }}</dd><dt>KVM</dt><dd>{{ c.kvm }}</dd>
<dt>Xen</dt><dd>{{ c.xen }}</dd><dt>Try it</dt><dd><pre>{{ c.claim.commands | join("\n") }}</pre></dd></dl>
</div>
{% endfor %}
</section>

<section id="lab"><h2>Lab</h2>{{ table(r.facts) }}</section>

<section id="how"><h2>How to read this</h2>
{% for paragraph in how_to_read %}<p>{{ paragraph }}</p>
{% endfor %}
</section>

<section id="summary"><h2>Summary</h2>
{% if r.overview %}{{ r.overview }}
<p class="muted">Ratio of each workload with its {{ level }} interval (log axis). Coloured: the interval
names a better stack in its colour; grey: no clear difference, or a spread too wide for a verdict; hollow: no
interval.</p>{% endif %}
{{ table(r.summary) }}
{% if r.differences %}<p class="warning">{{ r.differences | length }} fairness difference(s) between the
stacks: see <a href="#fairness">Fairness</a> before trusting a ratio.</p>{% endif %}
</section>

<section id="workloads"><h2>Workloads</h2>
{% for w in r.workloads %}
<section class="workload" id="{{ w.anchor }}">
<h3><code>{{ w.name }}</code>{% if w.failed %} <span class="muted">· {{ w.failed }} failed run(s)</span>{% endif %}</h3>
<p class="muted">{{ w.metric }}{% if w.unit %} in {{ w.unit }}{% endif %} · {{ w.direction }}</p>
{% for warning in w.warnings %}<p class="warning">{{ warning }}</p>{% endfor %}
{{ w.chart }}
{{ table(w.table) }}
{{ table(w.ratios) }}
{% if w.parts %}{{ table(w.parts) }}{% endif %}
</section>
{% else %}<p class="muted">No runs could be read.</p>
{% endfor %}
</section>

<section id="fairness"><h2>Fairness</h2>
<p>Are the guests really identical on both stacks? Each guest's KVM column is compared with its Xen column.
The rows marked "host reports" and the host rows are what each host's probe read while the guests ran
(libvirt's live domain, QEMU's open files, <code>xl block-list</code>/<code>network-list</code>, the image's
header), not what the configuration asked for. The back-ends differ by design: on KVM the guest's disk and
network are served by its QEMU process (or the host kernel's vhost-net), on Xen by back-ends in Dom0.</p>
<p class="key"><span class="differs">differs</span> not the same on both stacks ·
<span class="pv">PV</span> paravirtual on both (virtio on KVM, Xen front-ends on Xen): the expected, fair
pairing · n/a: exists on one stack only · —: not reported</p>
{{ table(r.fairness) }}
</section>

<section id="probes"><h2>Probes</h2>
{% for s in r.probes %}<h3>{{ s.title }}</h3><p>{{ s.text }}</p>{{ table(s.table) }}
{% endfor %}
</section>

<section id="failed"><h2>Failed runs</h2>{{ table(r.failed) }}</section>

<section id="problems"><h2>Problems</h2>
{% if r.problems %}<p>These input files are missing, unreadable or do not follow the contract; the rest of the
report is built without them.</p>
<ul>{% for p in r.problems %}<li>{{ p }}</li>{% endfor %}</ul>
{% else %}<p class="muted">None: every file was read.</p>{% endif %}
</section>
</main></body>
</html>
"""

VERDICT_CSS = {HELD: "held", NOT_HELD: "not-held", UNMEASURED: "unmeasured", FACTS: "facts"}

_ENV = Environment(autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def render_html(report: Report) -> str:
    return _ENV.from_string(TEMPLATE).render(
        # The CSS is this module's own constant: escaping it would break its quotes.
        r=report, css=Markup(CSS % COLOURS), emulated_banner=EMULATED_BANNER, level=f"{CONFIDENCE:.0%}",
        how_to_read=HOW_TO_READ, claims_title=CLAIMS_TITLE, claims_intro=CLAIMS_INTRO, verdict_css=VERDICT_CSS)
