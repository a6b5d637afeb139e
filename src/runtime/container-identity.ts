/**
 * The identity (uid, gid, supplementary groups) Docker Engine gives a container's process,
 * worked out from its `User` ("user[:group]"), its `GroupAdd` and the container's own
 * /etc/passwd and /etc/group, for ContainerStatus.user of containers that do not run (a
 * running one is read from /proc). Seen on Docker 20.10: a user without a group gets the
 * primary group from /etc/passwd plus every /etc/group membership of that user's name (the
 * CRI's Merge policy); "uid:gid" gets only that group (the Strict policy); the primary group
 * is always among the supplementary groups, and GroupAdd's groups are added in both cases.
 */

export interface LinuxIdentity {
  uid: bigint;
  gid: bigint;
  supplementalGroups: bigint[];
}

interface PasswdEntry {
  name: string;
  uid: bigint;
  gid: bigint;
}

interface GroupEntry {
  name: string;
  gid: bigint;
  members: string[];
}

const NUMERIC = /^\d+$/;

export function parsePasswd(text: string): PasswdEntry[] {
  const entries: PasswdEntry[] = [];
  for (const line of text.split("\n")) {
    const [name, , uid, gid] = line.split(":");
    if (name && uid && gid && NUMERIC.test(uid) && NUMERIC.test(gid)) {
      entries.push({ name, uid: BigInt(uid), gid: BigInt(gid) });
    }
  }
  return entries;
}

export function parseGroup(text: string): GroupEntry[] {
  const entries: GroupEntry[] = [];
  for (const line of text.split("\n")) {
    const [name, , gid, members] = line.split(":");
    if (name && gid && NUMERIC.test(gid)) {
      entries.push({
        name,
        gid: BigInt(gid),
        members: (members ?? "").split(",").filter((member) => member !== ""),
      });
    }
  }
  return entries;
}

export interface AccountFiles {
  /** The text of /etc/passwd, "" when the container has none. */
  passwd: string;
  group: string;
}

/**
 * What the engine would run the process as; undefined when it could not start it (a user or
 * group name the files do not know).
 */
export function resolveIdentity(
  user: string,
  groupAdd: string[],
  files: AccountFiles,
): LinuxIdentity | undefined {
  const passwd = parsePasswd(files.passwd);
  const groups = parseGroup(files.group);
  const [userPart = "", groupPart] = user.split(":", 2);
  const account = NUMERIC.test(userPart || "0")
    ? passwd.find((entry) => entry.uid === BigInt(userPart || "0"))
    : passwd.find((entry) => entry.name === userPart);
  if (!account && !NUMERIC.test(userPart || "0")) return undefined;
  const uid = account?.uid ?? BigInt(userPart || "0");

  const groupOf = (spec: string) =>
    NUMERIC.test(spec) ? BigInt(spec) : groups.find((entry) => entry.name === spec)?.gid;
  let gid: bigint;
  const supplemental = new Set<bigint>();
  if (groupPart !== undefined && groupPart !== "") {
    const explicit = groupOf(groupPart);
    if (explicit === undefined) return undefined;
    gid = explicit;
  } else {
    gid = account?.gid ?? 0n;
    if (account) {
      for (const entry of groups)
        if (entry.members.includes(account.name)) supplemental.add(entry.gid);
    }
  }
  supplemental.add(gid);
  for (const spec of groupAdd) {
    const added = groupOf(spec);
    if (added === undefined) return undefined;
    supplemental.add(added);
  }
  return {
    uid,
    gid,
    supplementalGroups: [...supplemental].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)),
  };
}

/**
 * Docker's `User` for the Strict policy: the user with an explicit group (the primary one
 * from /etc/passwd when the kubelet sent none), which keeps the engine from adding the
 * user's /etc/group memberships. Answers the user unchanged when it already names a group.
 */
export function strictUser(user: string, passwdText: string): string {
  const [userPart = "", groupPart] = user.split(":", 2);
  if (groupPart !== undefined && groupPart !== "") return user;
  const name = userPart || "0";
  const account = parsePasswd(passwdText).find((entry) =>
    NUMERIC.test(name) ? entry.uid === BigInt(name) : entry.name === name,
  );
  return `${name}:${account?.gid ?? 0n}`;
}
