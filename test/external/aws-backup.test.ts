// AWS Backup recovery points as a recovery point, against a local peer speaking ListRecoveryPointsByResource
// over restJson1 (test/support/aws-backup-peer.ts): moto 5.2.5 does not serve that call.
import { externalObserver } from "@kots-backup/adapters/external/index";
import { parseConfig } from "@kots-backup/core/config";
import { evaluateExternal } from "@kots-backup/core/external";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AwsBackupPeer,
  type PeerRecoveryPoint,
  startAwsBackupPeer,
} from "../support/aws-backup-peer.ts";
import { AWS_TEST_CREDENTIALS } from "../support/peers.ts";

const ARN = "arn:aws:elasticfilesystem:eu-west-1:123456789012:file-system/fs-0123";
const H = 3_600_000;
let peer: AwsBackupPeer;
beforeAll(async () => {
  peer = await startAwsBackupPeer();
});
afterAll(() => peer.close());

function point(extra: Record<string, unknown> = {}) {
  const [p] = parseConfig({
    external: [
      { kind: "aws-backup", name: "files", app: "orders", period: "1d", resourceArn: ARN, ...extra },
    ],
  }).external;
  if (p?.kind !== "aws-backup") throw new Error("not aws-backup");
  return p;
}
const look = (p: ReturnType<typeof point>, now: Date) =>
  externalObserver([p], {
    allowCommand: false,
    aws: { endpoint: peer.endpoint, credentials: AWS_TEST_CREDENTIALS, maxAttempts: 1 },
  })(p, now);
const rp = (n: number, at: Date, status = "COMPLETED", vault = "Default"): PeerRecoveryPoint => ({
  RecoveryPointArn: `arn:aws:backup:eu-west-1:123456789012:recovery-point:rp-${n}`,
  CreationDate: at.getTime() / 1000,
  Status: status,
  BackupVaultName: vault,
});

describe("external aws-backup (local restJson1 peer)", () => {
  const now = new Date("2026-06-10T12:00:00Z");
  const ago = (ms: number) => new Date(now.getTime() - ms);

  it("the newest COMPLETED point across pages, in the ARN's region; a newer PARTIAL one is failed", async () => {
    // 250 points: three pages of 100.
    peer.points.set(ARN, [
      ...Array.from({ length: 249 }, (_, i) => rp(i, ago((300 - i) * H))),
      rp(999, ago(2 * H)),
    ]);
    const ok = await look(point(), now);
    expect(ok).toMatchObject({ reachable: true, newestAt: "2026-06-10T10:00:00Z" });
    expect(ok.newestId).toContain("rp-999");
    expect(peer.requests.filter((r) => r.includes(encodeURIComponent(ARN))).length).toBeGreaterThanOrEqual(3);
    expect(peer.requests.at(-1)).toMatch(
      /^GET \/resources\/arn%3Aaws%3Aelasticfilesystem.*\/recovery-points\?/,
    );

    peer.points.set(ARN, [rp(1, ago(10 * H)), rp(2, ago(H), "PARTIAL")]);
    const partial = await look(point(), now);
    expect(partial).toMatchObject({ newestAt: "2026-06-10T02:00:00Z", failed: true });
    expect(evaluateExternal(point(), partial, now)).toMatchObject({ state: "down", reasons: ["failed"] });
  });

  it("only the configured vault counts; a stale newest point is missed", async () => {
    peer.points.set(ARN, [rp(1, ago(30 * H), "COMPLETED", "Vault-A"), rp(2, ago(H), "COMPLETED", "Vault-B")]);
    const a = await look(point({ vault: "Vault-A" }), now);
    expect(a.newestAt).toBe("2026-06-09T06:00:00Z");
    expect(
      evaluateExternal(point({ vault: "Vault-A" }), a, now, { firstSeenAt: "2026-01-01T00:00:00Z" }).reasons,
    ).toEqual(["missed"]);
  });

  it("a point dated beyond now + the clock-skew allowance counts for nothing and is reported", async () => {
    peer.points.set(ARN, [rp(1, ago(5 * H)), rp(2, new Date(now.getTime() + 3 * H))]);
    const o = await look(point(), now);
    expect(o).toMatchObject({ newestAt: "2026-06-10T07:00:00Z", futureDated: true });
    expect(evaluateExternal(point(), o, now).reasons).toEqual(["clock-skew"]);
  });

  it("access denied is unreachable, naming the call and the missing read action, not the service's text", async () => {
    peer.denied.add(ARN);
    try {
      const o = await look(point(), now);
      expect(o.reachable).toBe(false);
      expect(o.detail).toBe(
        "backup:ListRecoveryPointsByResource failed (AccessDeniedException, HTTP 403): the role lacks the read action (see kots-backup doctor)",
      );
    } finally {
      peer.denied.delete(ARN);
    }
  });
});
