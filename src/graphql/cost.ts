import {
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLNamedType,
  type GraphQLSchema,
  getNamedType,
  getOperationAST,
  isInterfaceType,
  isObjectType,
  Kind,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
  valueFromASTUntyped,
} from 'graphql';
import { MAX_PAGE_SIZE, pageLimit } from '../lib/paging.js';

type Variables = Readonly<Record<string, unknown>> | null | undefined;

/** How many times a field's selection counts: a page's size, fixed or read from the variables. */
type Size = number | ((variables: Variables) => number);

/** A selection's cost: `base`, plus each part's cost times its size. Fragments' nodes are shared. */
type CostNode = { base: number; parts: { size: Size; node: CostNode }[] };

/** A document's cost: a number when no page size depends on a variable. */
type Plan = number | CostNode;

const plans = new WeakMap<DocumentNode, Map<string, Plan>>();

/**
 * What an operation may cost: the objects its answer can hold. Every field with a selection
 * counts one, and a paginated field (one with `first` or `last` arguments) counts its selection
 * once per row of its page: the size given as a literal or in the variables, the default page
 * size when it is not given (as lib/paging.ts reads it), the largest page when the value is not
 * a number. Fragments count wherever they are spread; leaves count nothing (the token limit
 * bounds them). Lists without pagination count once.
 *
 * The plan is worked out once per document (Yoga's parser cache hands out one per query text)
 * and operation; a request then only multiplies the sizes its variables give.
 */
export function operationCost(schema: GraphQLSchema, document: DocumentNode, operationName: string | null | undefined, variables: Variables): number {
  let byName = plans.get(document);
  if (!byName) plans.set(document, (byName = new Map()));
  const key = operationName ?? '';
  let plan = byName.get(key);
  if (plan === undefined) byName.set(key, (plan = planOf(schema, document, operationName)));
  return typeof plan === 'number' ? plan : evaluate(plan, variables, new Map());
}

function evaluate(node: CostNode, variables: Variables, done: Map<CostNode, number>): number {
  let cost = done.get(node);
  if (cost !== undefined) return cost;
  cost = node.base;
  for (const { size, node: part } of node.parts) {
    const n = typeof size === 'number' ? size : size(variables);
    if (n > 0) cost += n * evaluate(part, variables, done);
  }
  done.set(node, cost);
  return cost;
}

function planOf(schema: GraphQLSchema, document: DocumentNode, operationName: string | null | undefined): Plan {
  const operation = getOperationAST(document, operationName);
  if (!operation) return 0;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const def of document.definitions) if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
  const defaults = variableDefaults(operation);
  // Each fragment's node is made once and shared by its spreads: a document cannot grow its plan
  // exponentially by spreading fragments that spread fragments.
  const fragmentNodes = new Map<string, CostNode | null>();

  /** A size argument: a literal, or how to read it from the variables (what pageLimit then gets). */
  const sizeOf = (value: ValueNode | undefined): number | null | ((variables: Variables) => number | null) => {
    if (!value || value.kind === Kind.NULL) return null;
    if (value.kind === Kind.VARIABLE) {
      const name = value.name.value;
      const fallback = defaults.get(name);
      return (variables) => ((variables && Object.hasOwn(variables, name) ? variables[name] : fallback) ?? null) as number | null;
    }
    return value.kind === Kind.INT ? Number(value.value) : NaN;
  };

  const pageSize = (first: ValueNode | undefined, last: ValueNode | undefined): Size => {
    const f = sizeOf(first);
    const l = sizeOf(last);
    if (typeof f !== 'function' && typeof l !== 'function') return rows(pageLimit({ first: f, last: l }));
    const read = (s: typeof f, variables: Variables) => (typeof s === 'function' ? s(variables) : s);
    return (variables) => rows(pageLimit({ first: read(f, variables), last: read(l, variables) }));
  };

  const add = (into: CostNode, size: Size, node: CostNode) => {
    if (typeof size === 'number' && node.parts.length === 0) into.base += size * node.base;
    else into.parts.push({ size, node });
  };

  const selectionCost = (set: SelectionSetNode, parent: GraphQLNamedType | undefined, into: CostNode, path: Set<string>): void => {
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        if (!selection.selectionSet) continue;
        const field = parent && (isObjectType(parent) || isInterfaceType(parent)) ? parent.getFields()[selection.name.value] : undefined;
        const child: CostNode = { base: 0, parts: [] };
        selectionCost(selection.selectionSet, field ? getNamedType(field.type) : undefined, child, path);
        into.base += 1;
        const paginated = field?.args.some((a) => a.name === 'first' || a.name === 'last');
        if (!paginated) {
          into.base += child.base;
          into.parts.push(...child.parts);
          continue;
        }
        const arg = (name: string) => selection.arguments?.find((a) => a.name.value === name)?.value;
        add(into, pageSize(arg('first'), arg('last')), child);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const type = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : parent;
        selectionCost(selection.selectionSet, type ?? undefined, into, path);
      } else {
        const name = selection.name.value;
        // Validation refuses cycles; this guard keeps a document that skipped it from recursing.
        if (path.has(name)) continue;
        let node = fragmentNodes.get(name);
        if (node === undefined) {
          const fragment = fragments.get(name);
          node = null;
          if (fragment) {
            node = { base: 0, parts: [] };
            const inner = new Set(path).add(name);
            selectionCost(fragment.selectionSet, schema.getType(fragment.typeCondition.name.value) ?? undefined, node, inner);
          }
          fragmentNodes.set(name, node);
        }
        if (node) add(into, 1, node);
      }
    }
  };

  const root: CostNode = { base: 0, parts: [] };
  selectionCost(operation.selectionSet, schema.getRootType(operation.operation) ?? undefined, root, new Set());
  return root.parts.length === 0 ? root.base : root;
}

/** The rows a page may hold: out-of-range sizes are refused when the field runs, so they count as the largest page. */
const rows = (n: number) => (Number.isInteger(n) && n >= 0 && n <= MAX_PAGE_SIZE ? n : MAX_PAGE_SIZE);

function variableDefaults(operation: OperationDefinitionNode): Map<string, unknown> {
  const defaults = new Map<string, unknown>();
  for (const def of operation.variableDefinitions ?? []) {
    defaults.set(def.variable.name.value, def.defaultValue ? valueFromASTUntyped(def.defaultValue) : undefined);
  }
  return defaults;
}
