import { type DocumentNode, type FragmentDefinitionNode, getOperationAST, Kind, type SelectionSetNode } from 'graphql';

export type OperationDescription = { type: 'query' | 'mutation' | 'subscription'; name: string | null; rootFields: string[] };

/** Descriptions by document (Yoga's parser cache hands out one per query text) and operation name. */
const described = new WeakMap<DocumentNode, Map<string, OperationDescription | null>>();

/**
 * The operation a request runs and the root fields it selects (through fragments too):
 * schema-defined names, safe as metric labels, unlike client-chosen operation names. Several
 * plugins ask for every request (rate limits, the log line): it is worked out once per document.
 */
export function describeOperation(document: DocumentNode, operationName?: string | null): OperationDescription | null {
  let byName = described.get(document);
  if (!byName) described.set(document, (byName = new Map()));
  const key = operationName ?? '';
  let description = byName.get(key);
  if (description === undefined) byName.set(key, (description = describe(document, operationName)));
  return description;
}

function describe(document: DocumentNode, operationName?: string | null): OperationDescription | null {
  const operation = getOperationAST(document, operationName);
  if (!operation) return null;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const def of document.definitions) if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
  const rootFields: string[] = [];
  const visit = (set: SelectionSetNode, seen: Set<string>) => {
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        if (!selection.name.value.startsWith('__')) rootFields.push(selection.name.value);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        visit(selection.selectionSet, seen);
      } else {
        const fragment = fragments.get(selection.name.value);
        if (fragment && !seen.has(fragment.name.value)) visit(fragment.selectionSet, new Set([...seen, fragment.name.value]));
      }
    }
  };
  visit(operation.selectionSet, new Set());
  return { type: operation.operation, name: operation.name?.value ?? null, rootFields };
}
