/**
 * node:http without an ESM import. Importing a CommonJS builtin from ESM reads every one of its
 * exports to build the module namespace, and node:http's WebSocket, MessageEvent and CloseEvent
 * getters then load undici (Node's fetch and WebSocket): measured on Node 24, about 14 MiB of
 * resident memory (7 of heap and code, 7 of the binary's pages) for code berth never runs.
 * process.getBuiltinModule hands over the CommonJS object itself, in dist/ and in the bundle.
 */
export const nodeHttp = process.getBuiltinModule("node:http");
