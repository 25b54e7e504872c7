import type { CodegenConfig } from '@graphql-codegen/cli';

// Typed documents for the project's own client and tests, from the committed contract
// (schema/schema.graphql). Regenerate with `npm run codegen` after changing an operation.
const config: CodegenConfig = {
  schema: 'schema/schema.graphql',
  documents: ['src/client/operations/*.graphql'],
  ignoreNoDocuments: false,
  // The project is ESM (NodeNext): generated relative imports need their .js extension.
  emitLegacyCommonJSImports: false,
  generates: {
    'src/client/generated/': {
      preset: 'client',
      presetConfig: { fragmentMasking: false, gqlTagName: 'graphql' },
      config: {
        useTypeImports: true,
        enumsAsTypes: true,
        scalars: { DateTime: 'string', JSON: 'unknown', ID: 'string' },
        documentMode: 'documentNode',
      },
    },
  },
};

export default config;
