import {
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
import { encodeInit } from "./init-encoder.ts";
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
  options: CallOptions = {},
): UntypedServiceImplementation {
  const implementation: UntypedServiceImplementation = {};
  for (const method of service.methods) {
    const handler = handlers[method.localName];
    if (!handler) throw new Error(`no handler for ${service.typeName}/${method.name}`);
    const record = rpcRecorder(method.name);
    // One child logger per method, not per call: pino serializes a child's bindings when it
    // is made, and the kubelet makes hundreds of calls a minute.
    const methodLog = log.child({ rpc: method.name });
    implementation[method.name] =
      method.methodKind === "server_streaming"
        ? serverStreaming(method, handler, methodLog, record)
        : unary(method, handler, methodLog, record, options);
  }
  return implementation;
}

function unary(
  method: DescMethod,
  handler: Handler,
  log: Logger,
  record: RecordCall,
  options: CallOptions,
): handleUnaryCall<Message, Message> {
  const run = handler as unknown as (req: Message, ctx: CallContext) => Promise<object>;
  return (call, callback) => {
    const { context, done } = callContext(
      call,
      log,
      options.runtimeRequestTimeoutMs === undefined
        ? undefined
        : defaultBoundMs(method, call.request, options.runtimeRequestTimeoutMs),
    );
    const started = performance.now();
    run(call.request, context).then(
      (init) => {
        done();
        logCall(context.log, method, started, record);
        // Answers go to responseSerialize as bytes, which it passes through: pre-encoded ones
        // as they are, the others encoded straight from their init shape (no create()).
        const bytes = preserializedBytes(init) ?? encodeInit(method.output, init as never);
        callback(null, bytes as unknown as Message);
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
    const { context, done } = callContext(call, log);
    const started = performance.now();
    const send = (init: object) =>
      new Promise<void>((resolve) => {
        // Honour backpressure: a slow subscriber is waited for, never buffered without bound.
        if (call.write(encodeInit(method.output, init as never) as unknown as Message)) resolve();
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

export interface CallOptions {
  /** cri-dockerd's --runtime-request-timeout: the bound on a unary call without a deadline. */
  runtimeRequestTimeoutMs?: number;
}

/**
 * Calls that legitimately run longer than --runtime-request-timeout, as cri-dockerd exempts
 * them: a pull is bounded by --image-pull-progress-deadline instead, and a stop or an ExecSync
 * by the timeout its request carries (on top of the usual bound). Server streams are never
 * bounded.
 */
function defaultBoundMs(method: DescMethod, request: Message, timeoutMs: number) {
  if (method.name === "PullImage") return undefined;
  if (method.name === "StopContainer" || method.name === "ExecSync") {
    const seconds = Number((request as { timeout?: bigint | number }).timeout ?? 0);
    if (method.name === "ExecSync" && seconds <= 0) return undefined;
    return timeoutMs + Math.max(0, seconds) * 1000;
  }
  return timeoutMs;
}

function callContext(
  call: ServerUnaryCall<Message, Message> | ServerWritableStream<Message, Message>,
  log: Logger,
  boundMs?: number,
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
  } else if (boundMs !== undefined) {
    timer = setTimeout(
      () =>
        controller.abort(
          new DOMException(
            `no answer within --runtime-request-timeout (${boundMs} ms)`,
            "TimeoutError",
          ),
        ),
      boundMs,
    );
    timer.unref();
  }
  const done = () => {
    if (timer) clearTimeout(timer);
    call.removeListener("cancelled", onCancel);
  };
  return {
    context: { signal: controller.signal, deadline, log },
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
