import {
  create,
  type DescMethod,
  type DescService,
  fromBinary,
  type Message,
  toBinary,
} from "@bufbuild/protobuf";
import {
  type handleServerStreamingCall,
  type handleUnaryCall,
  Metadata,
  type MethodDefinition,
  type ServerErrorResponse,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceDefinition,
  status,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import type { Logger } from "pino";
import { rpcRecorder } from "../metrics/record.ts";
import type { CallContext } from "./call-context.ts";
import { toGrpcFailure } from "./grpc-status.ts";
import { preserializedBytes } from "./preserialized.ts";

type Handler = (...args: never[]) => Promise<unknown>;
type RecordCall = (code: status, seconds: number) => void;

/** grpc-js method definitions for a protobuf-es service descriptor. */
export function grpcServiceDefinition(service: DescService): ServiceDefinition {
  const definition: Record<string, MethodDefinition<Message, Message>> = {};
  for (const method of service.methods) {
    definition[method.name] = {
      path: `/${service.typeName}/${method.name}`,
      requestStream:
        method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
      responseStream:
        method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
      requestSerialize: (message: Message) => Buffer.from(toBinary(method.input, message)),
      requestDeserialize: (bytes: Buffer) => fromBinary(method.input, bytes),
      responseSerialize: (message: Message | Uint8Array) =>
        message instanceof Uint8Array
          ? Buffer.from(message.buffer, message.byteOffset, message.byteLength)
          : Buffer.from(toBinary(method.output, message)),
      responseDeserialize: (bytes: Buffer) => fromBinary(method.output, bytes),
    };
  }
  return definition;
}

/**
 * Wraps berth's handlers for grpc-js: builds each call's context (AbortSignal fed by
 * cancellation and deadline), logs, counts and times every call (berth_runtime_operations_*),
 * and maps every failure to a status in one place.
 */
export function grpcImplementation(
  service: DescService,
  handlers: Record<string, Handler>,
  log: Logger,
): UntypedServiceImplementation {
  const implementation: UntypedServiceImplementation = {};
  for (const method of service.methods) {
    const handler = handlers[method.localName];
    if (!handler) throw new Error(`no handler for ${service.typeName}/${method.name}`);
    const record = rpcRecorder(method.name);
    implementation[method.name] =
      method.methodKind === "server_streaming"
        ? serverStreaming(method, handler, log, record)
        : unary(method, handler, log, record);
  }
  return implementation;
}

function unary(
  method: DescMethod,
  handler: Handler,
  log: Logger,
  record: RecordCall,
): handleUnaryCall<Message, Message> {
  const run = handler as unknown as (req: Message, ctx: CallContext) => Promise<object>;
  return (call, callback) => {
    const { context, done } = callContext(call, method, log);
    const started = performance.now();
    run(call.request, context).then(
      (init) => {
        done();
        logCall(context.log, method, started, record);
        // Pre-encoded answers go to responseSerialize as bytes, which it passes through.
        const bytes = preserializedBytes(init) as unknown as Message | undefined;
        callback(null, bytes ?? create(method.output, init as never));
      },
      (err: unknown) => {
        done();
        callback(failure(context.log, method, started, err, record));
      },
    );
  };
}

function serverStreaming(
  method: DescMethod,
  handler: Handler,
  log: Logger,
  record: RecordCall,
): handleServerStreamingCall<Message, Message> {
  const run = handler as unknown as (
    req: Message,
    send: (message: object) => Promise<void>,
    ctx: CallContext,
  ) => Promise<void>;
  return (call) => {
    const { context, done } = callContext(call, method, log);
    const started = performance.now();
    const send = (init: object) =>
      new Promise<void>((resolve) => {
        // Honour backpressure: a slow subscriber is waited for, never buffered without bound.
        if (call.write(create(method.output, init as never))) resolve();
        else call.once("drain", () => resolve());
      });
    run(call.request, send, context).then(
      () => {
        done();
        logCall(context.log, method, started, record);
        call.end();
      },
      (err: unknown) => {
        done();
        // grpc-js sends the status of an "error" event; destroy() would drop it and leave the
        // client waiting for a status until its deadline.
        call.emit("error", failure(context.log, method, started, err, record));
      },
    );
  };
}

/** How far ahead of the server's deadline the client's deadline timer may fire. */
const DEADLINE_SLACK_MS = 100;

function callContext(
  call: ServerUnaryCall<Message, Message> | ServerWritableStream<Message, Message>,
  method: DescMethod,
  log: Logger,
): { context: CallContext; done: () => void } {
  const controller = new AbortController();
  const rawDeadline = call.getDeadline();
  const deadline =
    rawDeadline instanceof Date
      ? rawDeadline
      : Number.isFinite(rawDeadline)
        ? new Date(rawDeadline)
        : undefined;
  // At the deadline the client's grpc-js resets the stream (its timer runs ahead of the
  // server's by the transit time) and the server's ends the call, both racing the timer
  // below: a cancellation that close to the deadline is the deadline, not the client giving up.
  const onCancel = () =>
    controller.abort(
      deadline && Date.now() >= deadline.getTime() - DEADLINE_SLACK_MS
        ? new DOMException("deadline exceeded", "TimeoutError")
        : new DOMException("call cancelled by client", "AbortError"),
    );
  call.on("cancelled", onCancel);
  let timer: NodeJS.Timeout | undefined;
  if (deadline) {
    timer = setTimeout(
      () => controller.abort(new DOMException("deadline exceeded", "TimeoutError")),
      Math.max(0, deadline.getTime() - Date.now()),
    );
    timer.unref();
  }
  const done = () => {
    if (timer) clearTimeout(timer);
    call.removeListener("cancelled", onCancel);
  };
  return {
    context: { signal: controller.signal, deadline, log: log.child({ rpc: method.name }) },
    done,
  };
}

function logCall(log: Logger, method: DescMethod, started: number, record: RecordCall): void {
  const elapsed = performance.now() - started;
  record(status.OK, elapsed / 1000);
  if (log.isLevelEnabled("debug")) {
    log.debug({ ms: Math.round(elapsed * 100) / 100 }, `${method.name} ok`);
  }
}

function failure(
  log: Logger,
  method: DescMethod,
  started: number,
  err: unknown,
  record: RecordCall,
): ServerErrorResponse {
  const { code, details } = toGrpcFailure(err);
  const elapsed = performance.now() - started;
  record(code, elapsed / 1000);
  const ms = Math.round(elapsed * 100) / 100;
  log.info({ code, ms }, `${method.name} failed: ${details}`);
  if (log.isLevelEnabled("debug") && err instanceof Error) log.debug({ err }, "failure detail");
  return Object.assign(new Error(details), { code, details, metadata: new Metadata() });
}
