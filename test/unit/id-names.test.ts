// Topic names and Redis keys built from ids: ids of any characters never make two of them equal.
import { describe, expect, it } from 'vitest';
import { escapeId, idKey, idsOfKey, unescapeId } from '../../src/lib/id-names.js';
import { topics } from '../../src/pubsub/topics.js';

/** Ids that mimic separators, escapes and other ids' names. */
const IDS = ['acme', 'alice', 'acme:user:alice', 'alice:presence', 'user', 'a:b', 'a', 'b', 'a%3Ab', '%', '%25', ':', '', 'x\u0000y', 'presence'];

describe('ids in topic names and keys', () => {
  it('gives every (org, user) pair and every org its own topics, across all topic kinds', () => {
    const names = new Map<string, string>();
    const add = (name: string, what: string) => {
      expect(names.get(name), `${what} and ${names.get(name)} are both ${JSON.stringify(name)}`).toBeUndefined();
      names.set(name, what);
    };
    for (const org of IDS) {
      add(topics.orgPresence(org), `orgPresence(${org})`);
      add(topics.expertRequests(org), `expertRequests(${org})`);
      for (const user of IDS) {
        add(topics.presence(org, user), `presence(${org}, ${user})`);
        add(topics.userMembership(org, user), `userMembership(${org}, ${user})`);
      }
    }
    const perConversation = ['messageAdded', 'messageUpdated', 'messageDeleted', 'typing', 'controlEvent', 'messageChunk', 'membership'] as const;
    for (const conversation of IDS) {
      for (const kind of perConversation) add(topics[kind](conversation), `${kind}(${conversation})`);
    }
    // The case of the issue: an org named after another org's user.
    expect(topics.orgPresence('acme:user:alice')).not.toBe(topics.presence('acme', 'alice'));
  });

  it('keeps topic names of plain ids readable', () => {
    expect(topics.presence('acme', 'alice')).toBe('sb:org:acme:user:alice:presence');
    expect(topics.orgPresence('acme:user:alice')).toBe('sb:org:acme%3Auser%3Aalice:presence');
  });

  it('makes Redis keys that tell their ids apart and give them back', () => {
    const keys = new Map<string, string>();
    for (const org of IDS) {
      for (const user of IDS) {
        const key = idKey(org, user);
        expect(keys.get(key), `${org}/${user}`).toBeUndefined();
        keys.set(key, `${org}/${user}`);
        expect(idsOfKey(key)).toEqual([org, user]);
        // An org's keys start with the org's prefix, and only its keys do.
        for (const other of IDS) expect(key.startsWith(idKey(other, '')), `${org} vs ${other}`).toBe(other === org);
      }
    }
    for (const id of IDS) expect(unescapeId(escapeId(id))).toBe(id);
  });
});
