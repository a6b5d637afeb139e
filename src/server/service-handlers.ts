import type { DescMessage, DescService, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import { BerthError } from "../errors.ts";
import type { CallContext } from "./call-context.ts";

export type UnaryHandler<I extends DescMessage, O extends DescMessage> = (
  request: MessageShape<I>,
  context: CallContext,
) => Promise<MessageInitShape<O>>;

export type ServerStreamHandler<I extends DescMessage, O extends DescMessage> = (
  request: MessageShape<I>,
  send: (message: MessageInitShape<O>) => Promise<void>,
  context: CallContext,
) => Promise<void>;

/**
 * One handler per RPC of a generated service, keyed by the method's local name
 * (`runPodSandbox`). Derived from the descriptors, so a missing or misspelled RPC is a
 * compile error.
 */
export type ServiceHandlers<S extends DescService & { method: Record<string, unknown> }> = {
  [K in keyof S["method"]]: S["method"][K] extends {
    methodKind: "unary";
    input: infer I extends DescMessage;
    output: infer O extends DescMessage;
  }
    ? UnaryHandler<I, O>
    : S["method"][K] extends {
          methodKind: "server_streaming";
          input: infer I extends DescMessage;
          output: infer O extends DescMessage;
        }
      ? ServerStreamHandler<I, O>
      : never;
};

/** The handler for an RPC berth does not serve: UNIMPLEMENTED, naming the RPC. */
export function unimplemented(service: string, rpc: string): () => Promise<never> {
  return async () => {
    throw new BerthError("Unimplemented", `berth does not implement ${service}/${rpc}`);
  };
}
