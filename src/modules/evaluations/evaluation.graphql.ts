import { requireViewer } from '../../context.js';
import { type EvaluationRow, evaluationVerdict } from '../../db/schema/index.js';
import { builder } from '../../graphql/builder.js';
import { viewerIndependent } from '../../graphql/viewer-independent.js';
import { MessageRef } from '../messages/message.graphql.js';
import { UserRef } from '../users/user.graphql.js';

const EvaluationVerdictEnum = builder.enumType('EvaluationVerdict', { values: evaluationVerdict.enumValues });

const EvaluationRef = builder.objectRef<EvaluationRow>('Evaluation').implement({
  description: "An evaluator's verdict on a message.",
  fields: (t) => ({
    id: t.exposeID('id', viewerIndependent),
    messageId: t.exposeID('messageId', viewerIndependent),
    verdict: t.expose('verdict', { type: EvaluationVerdictEnum, ...viewerIndependent }),
    scores: t.expose('scores', { type: 'JSON', nullable: true, ...viewerIndependent }),
    reason: t.exposeString('reason', { nullable: true, ...viewerIndependent }),
    evaluator: t.field({ type: UserRef, ...viewerIndependent, resolve: async (e, _args, ctx) => (await ctx.loaders.user.load(e.evaluatorId))! }),
    createdAt: t.expose('createdAt', { type: 'DateTime', ...viewerIndependent }),
  }),
});

const EvaluationInput = builder.inputType('EvaluationInput', {
  fields: (t) => ({
    verdict: t.field({ type: EvaluationVerdictEnum, required: true }),
    scores: t.field({ type: 'JSON', description: 'At most 4 KiB of JSON, e.g. `{ "relevance": 0.9, "safety": 1 }`.' }),
    reason: t.string({ description: 'Up to 1,000 characters; a FAIL that brings in an expert gives it as the request’s reason.' }),
  }),
});

builder.objectField(MessageRef, 'evaluations', (t) =>
  t.field({
    type: [EvaluationRef],
    description: 'The verdicts evaluators gave this message, oldest first.',
    ...viewerIndependent,
    resolve: (m, _args, ctx) => ctx.loaders.evaluations.load(m.id),
  }),
);

builder.mutationFields((t) => ({
  evaluateMessage: t.field({
    type: EvaluationRef,
    description:
      "Stores a verdict on a message of your org (agents, API keys, admins). A FAIL on an agent's message while the conversation is in AGENT mode opens an expert request with the evaluation's reason.",
    args: { messageId: t.arg.id({ required: true }), input: t.arg({ type: EvaluationInput, required: true }) },
    resolve: (_root, args, ctx) => ctx.services.evaluations.evaluate(requireViewer(ctx), args.messageId, args.input),
  }),
}));
