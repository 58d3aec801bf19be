// Parse Mermaid texts with Mermaid's own parser (the one GitHub's renderer runs).
// stdin: a JSON list of texts; stdout: per text {ok, type, nodes: {id: label}, edges: [[from, to, label]],
// subgraphs: {id: [title, [node ids]]}} or {ok: false, error}. Entity codes (#35; #quot;) are decoded
// as Mermaid decodes them when it draws, so labels compare with the names they stand for.
import { JSDOM } from "jsdom";

const dom = new JSDOM("<!doctype html><html><body></body></html>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import("mermaid");
mermaid.initialize({ startOnLoad: false, securityLevel: "strict" });

const named = { quot: '"', amp: "&", lt: "<", gt: ">", nbsp: "\u00a0" };
// mermaid's parser keeps "#35;" as "ﬂ°°35¶ß" and "#quot;" as "ﬂ°quot¶ß" until it draws
const decode = (s) =>
  String(s)
    .replace(/ﬂ°°(\d+)¶ß/g, (_, n) => String.fromCodePoint(Number(n)))
    .replace(/ﬂ°(\w+)¶ß/g, (m, n) => named[n] ?? m);

let input = "";
for await (const chunk of process.stdin) input += chunk;
const out = [];
for (const text of JSON.parse(input)) {
  try {
    const diagram = await mermaid.mermaidAPI.getDiagramFromText(text);
    const db = diagram.db;
    const nodes = {};
    for (const v of db.getVertices().values()) nodes[v.id] = decode(v.text);
    const edges = db.getEdges().map((e) => [e.start, e.end, decode(e.text ?? "")]);
    const subgraphs = {};
    for (const s of db.getSubGraphs()) subgraphs[s.id] = [decode(s.title), s.nodes];
    out.push({ ok: true, type: diagram.type, nodes, edges, subgraphs });
  } catch (e) {
    out.push({ ok: false, error: String(e?.message ?? e).slice(0, 800) });
  }
}
process.stdout.write(JSON.stringify(out));
