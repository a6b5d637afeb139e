import {
  create,
  type DescMessage,
  type DescService,
  type MessageInitShape,
  type MessageShape,
} from "@bufbuild/protobuf";
import {
  type Client,
  credentials,
  Metadata,
  makeGenericClientConstructor,
  type ServiceError,
} from "@grpc/grpc-js";
import { ImageService, RuntimeService } from "../../src/gen/runtime/v1/api_pb.js";
import { grpcServiceDefinition } from "../../src/server/grpc-service.ts";

type Unary<S extends DescService & { method: Record<string, unknown> }> = {
  [K in keyof S["method"]]: S["method"][K] extends {
    methodKind: "unary";
    input: infer I extends DescMessage;
    output: infer O extends DescMessage;
  }
    ? (request?: MessageInitShape<I>, options?: { timeoutMs?: number }) => Promise<MessageShape<O>>
    : S["method"][K] extends {
          methodKind: "server_streaming";
          input: infer I extends DescMessage;
          output: infer O extends DescMessage;
        }
      ? (request?: MessageInitShape<I>) => AsyncIterable<MessageShape<O>>
      : never;
};

/** A CRI client over berth's unix socket, as the kubelet calls it: grpc over the socket. */
export interface CriClient {
  runtime: Unary<typeof RuntimeService>;
  image: Unary<typeof ImageService>;
  close(): void;
}

export function criClient(endpoint: string): CriClient {
  const runtime = bind(RuntimeService, endpoint);
  const image = bind(ImageService, endpoint);
  return {
    runtime: runtime.calls as Unary<typeof RuntimeService>,
    image: image.calls as Unary<typeof ImageService>,
    close() {
      runtime.client.close();
      image.client.close();
    },
  };
}

function bind(service: DescService, endpoint: string) {
  const Constructor = makeGenericClientConstructor(grpcServiceDefinition(service), service.name);
  const client: Client = new Constructor(endpoint, credentials.createInsecure(), {
    "grpc.max_receive_message_length": 16 * 1024 * 1024,
  });
  const calls: Record<string, unknown> = {};
  for (const method of service.methods) {
    const invoke = (client as unknown as Record<string, (...args: unknown[]) => unknown>)[
      method.name
    ];
    if (!invoke) throw new Error(`no client method ${method.name}`);
    if (method.methodKind === "server_streaming") {
      calls[method.localName] = (init: object = {}) =>
        invoke.call(
          client,
          create(method.input, init as never),
          new Metadata(),
        ) as AsyncIterable<unknown>;
    } else {
      calls[method.localName] = (init: object = {}, options: { timeoutMs?: number } = {}) =>
        new Promise((resolve, reject) => {
          const deadline = new Date(Date.now() + (options.timeoutMs ?? 60_000));
          invoke.call(
            client,
            create(method.input, init as never),
            new Metadata(),
            { deadline },
            (err: ServiceError | null, response: unknown) =>
              err ? reject(err) : resolve(response),
          );
        });
    }
  }
  return { client, calls };
}
