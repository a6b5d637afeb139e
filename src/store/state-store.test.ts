import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { containerEntry, sandboxEntry } from "../../test/support/store-records.ts";
import { isErrorKind } from "../errors.ts";
import type { BerthRecord } from "./from-docker.ts";
import { POD_UID_LABEL, StateStore, type StoreChange } from "./state-store.ts";

const SB = `abcd${"1".repeat(60)}`;
const SB2 = `abce${"2".repeat(60)}`;
const C1 = `c0ff${"3".repeat(60)}`;
const C2 = `c0fe${"4".repeat(60)}`;

/** An entry labelled with a pod uid, as the kubelet labels every sandbox and container. */
function labelled(entry: BerthRecord, uid: string): BerthRecord {
  entry.record.config.labels[POD_UID_LABEL] = uid;
  return entry;
}

const ids = (found: { sandboxes: { id: string }[]; containers: { id: string }[] }) => ({
  sandboxes: found.sandboxes.map((r) => r.id.slice(0, 4)),
  containers: found.containers.map((r) => r.id.slice(0, 4)),
});

function recording(store: StateStore): string[] {
  const seen: string[] = [];
  store.subscribe((change: StoreChange) => {
    const what = change.type === "upsert" && change.previous ? "update" : change.type;
    seen.push(`${what} ${change.entry.kind} ${change.entry.record.id.slice(0, 4)}`);
  });
  return seen;
}

describe("StateStore", () => {
  test("upsert announces new and changed records with the previous one", () => {
    const store = new StateStore();
    const changes: StoreChange[] = [];
    store.subscribe((change) => changes.push(change));
    const first = sandboxEntry(SB);
    store.upsert(first);
    const second = sandboxEntry(SB, "renamed");
    store.upsert(second);
    assert.equal(changes.length, 2);
    assert.deepEqual(changes[0], { type: "upsert", entry: first, previous: undefined });
    assert.equal(changes[1]?.type, "upsert");
    assert.equal(changes[1]?.type === "upsert" && changes[1].previous?.record, first.record);
    assert.equal(store.sandbox(SB)?.name, "renamed");
  });

  test("delete announces once; deleting an unknown id is silent", () => {
    const store = new StateStore();
    const seen = recording(store);
    store.upsert(sandboxEntry(SB));
    store.delete(SB);
    store.delete(SB);
    store.delete("nope");
    assert.deepEqual(seen, ["upsert sandbox abcd", "delete sandbox abcd"]);
    assert.equal(store.sandbox(SB), undefined);
  });

  test("replaceAll deletes what is gone, upserts the rest", () => {
    const store = new StateStore();
    store.upsert(sandboxEntry(SB));
    store.upsert(containerEntry(C1, SB));
    const seen = recording(store);
    store.replaceAll([sandboxEntry(SB), sandboxEntry(SB2)]);
    assert.deepEqual(seen, ["delete container c0ff", "update sandbox abcd", "upsert sandbox abce"]);
    assert.deepEqual(store.size, { sandboxes: 2, containers: 0 });
    assert.deepEqual(store.containersOf(SB), []);
  });

  test("containersOf follows upserts, moves and deletes", () => {
    const store = new StateStore();
    store.upsert(containerEntry(C1, SB));
    store.upsert(containerEntry(C2, SB));
    assert.deepEqual(
      store
        .containersOf(SB)
        .map((c) => c.id)
        .sort(),
      [C2, C1].sort(),
    );
    store.delete(C1);
    assert.deepEqual(
      store.containersOf(SB).map((c) => c.id),
      [C2],
    );
    store.delete(C2);
    assert.deepEqual(store.containersOf(SB), []);
    assert.deepEqual(store.containersOf("unknown"), []);
  });

  test("a unique prefix of 4 to 63 characters finds a record; ambiguous or short ones do not", () => {
    const store = new StateStore();
    store.upsert(sandboxEntry(SB));
    store.upsert(sandboxEntry(SB2));
    store.upsert(containerEntry(C1, SB));
    assert.equal(store.sandbox(SB)?.id, SB, "full id");
    assert.equal(store.sandbox("abcd")?.id, SB, "4 characters, unique");
    assert.equal(store.sandbox("abc"), undefined, "too short");
    assert.equal(store.sandbox("abc".padEnd(4, "x")), undefined, "no match");
    store.upsert(sandboxEntry(`abcd${"9".repeat(60)}`));
    assert.equal(store.sandbox("abcd"), undefined, "ambiguous");
    assert.equal(store.sandbox(`${SB}0`), undefined, "longer than an id");
    assert.equal(store.container("c0ff")?.id, C1);
    assert.equal(store.sandbox("c0ff"), undefined, "containers are not sandboxes");
    assert.equal(store.container("abcd"), undefined);
  });

  test("require* throw NOT_FOUND naming the id", () => {
    const store = new StateStore();
    assert.throws(
      () => store.requireSandbox("x1234"),
      (err) => isErrorKind(err, "NotFound") && /"x1234"/.test(String(err)),
    );
    assert.throws(
      () => store.requireContainer("y1234"),
      (err) => isErrorKind(err, "NotFound") && /container "y1234"/.test(String(err)),
    );
  });

  test("unsubscribe stops the announcements", () => {
    const store = new StateStore();
    let count = 0;
    const unsubscribe = store.subscribe(() => count++);
    store.upsert(sandboxEntry(SB));
    unsubscribe();
    store.upsert(sandboxEntry(SB2));
    assert.equal(count, 1);
  });
  test("withPodUid answers the records labelled with the uid, through upserts and deletes", () => {
    const store = new StateStore();
    store.upsert(labelled(sandboxEntry(SB), "pod-a"));
    store.upsert(labelled(containerEntry(C1, SB), "pod-a"));
    store.upsert(labelled(sandboxEntry(SB2), "pod-b"));
    store.upsert(containerEntry(C2, SB2)); // no uid label: never found by uid
    assert.deepEqual(ids(store.withPodUid("pod-a")), { sandboxes: ["abcd"], containers: ["c0ff"] });
    assert.deepEqual(ids(store.withPodUid("pod-b")), { sandboxes: ["abce"], containers: [] });
    assert.deepEqual(ids(store.withPodUid("pod-c")), { sandboxes: [], containers: [] });

    // A changed record replaces the old one in the index, under its new uid if that changed.
    const moved = labelled(containerEntry(C1, SB), "pod-b");
    store.upsert(moved);
    assert.deepEqual(ids(store.withPodUid("pod-a")), { sandboxes: ["abcd"], containers: [] });
    assert.equal(store.withPodUid("pod-b").containers[0], moved.record);

    store.delete(SB2);
    store.delete(C1);
    assert.deepEqual(ids(store.withPodUid("pod-b")), { sandboxes: [], containers: [] });
    store.replaceAll([labelled(sandboxEntry(SB2), "pod-b")]);
    assert.deepEqual(ids(store.withPodUid("pod-a")), { sandboxes: [], containers: [] });
    assert.deepEqual(ids(store.withPodUid("pod-b")), { sandboxes: ["abce"], containers: [] });
  });
});
