import { readFileSync } from 'node:fs';

/** Self size and count of heap objects by "type:constructor", from a V8 .heapsnapshot file. */
export function heapByConstructor(file: string): Map<string, { count: number; size: number }> {
  const snap = JSON.parse(readFileSync(file, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const iType = fields.indexOf('type');
  const iName = fields.indexOf('name');
  const iSize = fields.indexOf('self_size');
  const out = new Map<string, { count: number; size: number }>();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + iType]!]!;
    let name = type === 'object' || type === 'closure' || type === 'native' ? snap.strings[snap.nodes[i + iName]!]! : '';
    if (name.length > 60) name = name.slice(0, 60);
    const key = `${type}${name ? `:${name}` : ''}`;
    const e = out.get(key) ?? { count: 0, size: 0 };
    e.count++;
    e.size += snap.nodes[i + iSize]!;
    out.set(key, e);
  }
  return out;
}

/** What grew between two snapshots, per socket added, biggest first. */
export function heapGrowth(
  before: Map<string, { count: number; size: number }>,
  after: Map<string, { count: number; size: number }>,
  sockets: number,
  top = 20,
) {
  const rows: { key: string; perSocketBytes: number; perSocketCount: number }[] = [];
  for (const [key, a] of after) {
    const b = before.get(key) ?? { count: 0, size: 0 };
    rows.push({ key, perSocketBytes: (a.size - b.size) / sockets, perSocketCount: (a.count - b.count) / sockets });
  }
  return rows.sort((x, y) => y.perSocketBytes - x.perSocketBytes).slice(0, top);
}
