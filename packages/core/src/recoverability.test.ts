import { describe, expect, it } from "vitest";
import { recoverabilityByApp } from "./recoverability.ts";

const full = { name: "nightly", type: "full" as const, export: true };
const partial = { name: "orders-hourly", type: "partial" as const, app: "orders", export: false };
const rds = { name: "orders-db", kind: "rds" as const, app: "orders" };
const s3 = { name: "uploads", kind: "s3" as const, app: "orders" };

describe("recoverabilityByApp", () => {
  it("the app's recovery point is the oldest of its snapshot, its export and its external points", () => {
    const [orders] = recoverabilityByApp(
      [full, partial],
      [rds, s3],
      [
        {
          name: "nightly",
          state: "up",
          lastSuccessAt: "2026-06-10T02:10:00Z",
          restorePoint: {
            backup: "instance-a",
            completedAt: "2026-06-10T02:10:00Z",
            exportedAt: "2026-06-10T02:40:00Z",
          },
        },
        { name: "orders-hourly", state: "up", lastSuccessAt: "2026-06-10T11:05:00Z" },
        { name: "external:orders-db", state: "up", lastSuccessAt: "2026-06-10T03:00:00Z" },
        { name: "external:uploads", state: "up", lastSuccessAt: "2026-06-10T12:00:00Z" },
      ],
    );
    expect(orders).toEqual({
      app: "orders",
      components: [
        {
          kind: "snapshot",
          check: "orders-hourly",
          label: "KOTS snapshot (orders-hourly)",
          at: "2026-06-10T11:05:00Z",
          state: "up",
        },
        {
          kind: "export",
          check: "nightly",
          label: "export of instance-a",
          at: "2026-06-10T02:10:00Z",
          state: "up",
        },
        {
          kind: "external",
          check: "external:orders-db",
          label: "orders-db (rds)",
          at: "2026-06-10T03:00:00Z",
          state: "up",
        },
        {
          kind: "external",
          check: "external:uploads",
          label: "uploads (s3)",
          at: "2026-06-10T12:00:00Z",
          state: "up",
        },
      ],
      recoveryPoint: "2026-06-10T02:10:00Z",
      limitedBy: "export of instance-a",
    });
  });

  it("an RDS instance whose snapshots stopped last month sets the app's recovery point, whatever the KOTS side says", () => {
    const [orders] = recoverabilityByApp(
      [full],
      [rds],
      [
        {
          name: "nightly",
          state: "up",
          lastSuccessAt: "2026-06-10T02:10:00Z",
          restorePoint: {
            backup: "instance-a",
            completedAt: "2026-06-10T02:10:00Z",
            exportedAt: "2026-06-10T02:40:00Z",
          },
        },
        { name: "external:orders-db", state: "down", lastSuccessAt: "2026-05-08T03:00:00Z" },
      ],
    );
    expect(orders).toMatchObject({ recoveryPoint: "2026-05-08T03:00:00Z", limitedBy: "orders-db (rds)" });
  });

  it("a component without any point leaves the app without a recovery point, naming it", () => {
    expect(
      recoverabilityByApp(
        [full],
        [rds],
        [
          { name: "nightly", state: "up", lastSuccessAt: "2026-06-10T02:10:00Z" },
          { name: "external:orders-db", state: "up", lastSuccessAt: "2026-06-10T03:00:00Z" },
        ],
      )[0],
    ).toMatchObject({ limitedBy: "export" });
    expect(
      recoverabilityByApp(
        [],
        [rds],
        [{ name: "external:orders-db", state: "up", lastSuccessAt: "2026-06-10T03:00:00Z" }],
      )[0],
    ).toMatchObject({
      limitedBy: "KOTS snapshot (no schedule covers orders)",
    });
    expect(recoverabilityByApp([], [rds], [])[0]?.recoveryPoint).toBeUndefined();
  });
});
