import { create } from "@bufbuild/protobuf";
import { credentials, makeGenericClientConstructor, type ServiceError } from "@grpc/grpc-js";
import {
  RuntimeService,
  VersionRequestSchema,
  type VersionResponse,
} from "../gen/runtime/v1/api_pb.js";
import { grpcServiceDefinition } from "../server/grpc-service.ts";

const CALL_TIMEOUT_MS = 3_000;

export type CriAnswer =
  | { answers: true; runtimeName: string; runtimeVersion: string }
  | { answers: false; error: string };

/** Asks whatever serves at a CRI endpoint for its Version, as crictl version does. */
export async function criVersion(endpoint: string): Promise<CriAnswer> {
  const Client = makeGenericClientConstructor(
    grpcServiceDefinition(RuntimeService),
    "RuntimeService",
  );
  const client = new Client(endpoint, credentials.createInsecure());
  type VersionCall = (
    request: unknown,
    options: { deadline: Date },
    callback: (err: ServiceError | null, response?: VersionResponse) => void,
  ) => void;
  try {
    const response = await new Promise<VersionResponse>((resolve, reject) => {
      (client as unknown as { Version: VersionCall }).Version(
        create(VersionRequestSchema, { version: "v1" }),
        { deadline: new Date(Date.now() + CALL_TIMEOUT_MS) },
        (err, answer) => (err || !answer ? reject(err) : resolve(answer)),
      );
    });
    return {
      answers: true,
      runtimeName: response.runtimeName,
      runtimeVersion: response.runtimeVersion,
    };
  } catch (err) {
    return { answers: false, error: (err as ServiceError).details || String(err) };
  } finally {
    client.close();
  }
}
