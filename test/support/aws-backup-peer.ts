// A local AWS Backup peer for ListRecoveryPointsByResource, which moto 5.2.5 does not serve (its backup
// backend has plans, vaults and report plans only: the call answers 404). It speaks the real protocol,
// restJson1 as the AWS SDK sends it: `GET /resources/{ResourceArn}/recovery-points` with the ARN
// percent-encoded, `maxResults` and `nextToken` query parameters, a SigV4-signed request; JSON answers
// with `RecoveryPoints` and `NextToken`, times as epoch seconds, and errors named by the
// `x-amzn-errortype` header. Tests set the recovery points per resource and a refusal per resource.
import { createServer, type Server } from "node:http";

export interface PeerRecoveryPoint {
  RecoveryPointArn: string;
  /** Epoch seconds, as the service sends it. */
  CreationDate: number;
  Status: string;
  BackupVaultName: string;
  EncryptionKeyArn?: string;
}

export interface AwsBackupPeer {
  endpoint: string;
  points: Map<string, PeerRecoveryPoint[]>;
  /** Resource ARNs answered with 403 AccessDeniedException. */
  denied: Set<string>;
  /** Requests seen, as `GET <path>?<query>`. */
  requests: string[];
  close(): Promise<void>;
}

export async function startAwsBackupPeer(): Promise<AwsBackupPeer> {
  const points = new Map<string, PeerRecoveryPoint[]>();
  const denied = new Set<string>();
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://peer");
    requests.push(`${req.method} ${url.pathname}${url.search}`);
    const json = (status: number, body: unknown, errorType?: string) => {
      res.writeHead(status, {
        "content-type": "application/json",
        ...(errorType ? { "x-amzn-errortype": errorType } : {}),
      });
      res.end(JSON.stringify(body));
    };
    if (!String(req.headers.authorization ?? "").startsWith("AWS4-HMAC-SHA256 "))
      return json(403, { Message: "missing signature" }, "MissingAuthenticationTokenException");
    const match = /^\/resources\/(.+)\/recovery-points\/?$/.exec(url.pathname);
    if (req.method !== "GET" || !match)
      return json(404, { Message: "unknown operation" }, "UnknownOperationException");
    const arn = decodeURIComponent(match[1] as string);
    if (denied.has(arn))
      return json(
        403,
        { Message: `User is not authorized to perform backup:ListRecoveryPointsByResource on ${arn}` },
        "AccessDeniedException",
      );
    const all = points.get(arn) ?? [];
    const max = Math.min(Number(url.searchParams.get("maxResults") ?? "100") || 100, 100);
    const start = Number(url.searchParams.get("nextToken") ?? "0") || 0;
    const page = all.slice(start, start + max);
    json(200, {
      RecoveryPoints: page,
      ...(start + max < all.length ? { NextToken: String(start + max) } : {}),
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    points,
    denied,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
