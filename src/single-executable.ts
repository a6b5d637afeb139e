/**
 * The entry of the single executable `npm run package` builds (scripts/package.sh bundles
 * from here). The bundle holds all of berth and no separate script files, so the netns
 * dialer child, which the build in dist/ starts as its own script, is this same executable
 * started with NETNS_DIALER_MODE as its first argument.
 */
import { NETNS_DIALER_MODE } from "./streaming/netns-dialer.ts";

// argv[1] is the executable as invoked; berth's own arguments start at argv[2], as in dist/.
if (process.argv[2] === NETNS_DIALER_MODE) void import("./streaming/netns-dialer-child.ts");
else void import("./main.ts");
