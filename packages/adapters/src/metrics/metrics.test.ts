import { describe, expect, it } from "vitest";
import { emfDocuments, emfLines } from "./emf.ts";
import type { VerifyFigures } from "./figures.ts";
import { escapeLabel, PrometheusMetrics, prometheusText } from "./prometheus.ts";

const figures: VerifyFigures = {
  cluster: "prod",
  checkedAt: new Date("2026-03-02T08:00:00Z"),
  schedules: [
    {
      schedule: "nightly",
      state: "up",
      secondsSinceLastSuccess: 20995,
      lastBackupDurationSeconds: 600,
      exportBytes: 1234,
    },
    { schedule: "hourly", state: "down" },
  ],
};

describe("EMF", () => {
  it("writes one document per schedule with the declared metrics present, and one heartbeat", () => {
    const docs = emfDocuments(figures);
    expect(docs).toHaveLength(3);
    expect(docs[0]).toEqual({
      _aws: {
        Timestamp: Date.parse("2026-03-02T08:00:00Z"),
        CloudWatchMetrics: [
          {
            Namespace: "KotsBackup",
            Dimensions: [["service", "Cluster", "Schedule"]],
            Metrics: [
              { Name: "SecondsSinceLastSuccess", Unit: "Seconds" },
              { Name: "LastBackupDurationSeconds", Unit: "Seconds" },
              { Name: "ExportBytes", Unit: "Bytes" },
              { Name: "CheckDown", Unit: "Count" },
            ],
          },
        ],
      },
      service: "kots-backup",
      Cluster: "prod",
      Schedule: "nightly",
      State: "up",
      SecondsSinceLastSuccess: 20995,
      LastBackupDurationSeconds: 600,
      ExportBytes: 1234,
      CheckDown: 0,
    });
    // Unknown figures are not declared (EMF requires every declared metric to have a value).
    expect(docs[1]?._aws.CloudWatchMetrics[0]?.Metrics).toEqual([{ Name: "CheckDown", Unit: "Count" }]);
    expect(docs[1]).toMatchObject({ Schedule: "hourly", CheckDown: 1 });
    // The dead man's switch alarm (infra/alerting.ts) watches Heartbeat with dimension service alone.
    expect(docs[2]).toMatchObject({ service: "kots-backup", Cluster: "prod", Heartbeat: 1 });
    expect(docs[2]?._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([["service"], ["service", "Cluster"]]);
    for (const line of emfLines(figures)) expect(line).not.toContain("\n");
  });

  it("every declared metric and dimension is a top-level member of its document", () => {
    for (const doc of emfDocuments(figures)) {
      for (const directive of doc._aws.CloudWatchMetrics) {
        for (const m of directive.Metrics) expect(typeof doc[m.Name]).toBe("number");
        for (const d of directive.Dimensions.flat()) expect(typeof doc[d]).toBe("string");
      }
    }
  });
});

describe("Prometheus exposition", () => {
  it("exposes gauges with cluster and schedule labels, the heartbeat and a run counter", () => {
    const metrics = new PrometheusMetrics();
    expect(metrics.render()).toBe(
      "# HELP kots_backup_verify_runs_total Verify runs completed since the process started.\n# TYPE kots_backup_verify_runs_total counter\nkots_backup_verify_runs_total 0\n",
    );
    metrics.record(figures);
    const text = metrics.render();
    expect(text).toContain("# TYPE kots_backup_seconds_since_last_success gauge\n");
    expect(text).toContain(
      'kots_backup_seconds_since_last_success{cluster="prod",schedule="nightly"} 20995\n',
    );
    expect(text).not.toContain('kots_backup_seconds_since_last_success{cluster="prod",schedule="hourly"}');
    expect(text).toContain(
      'kots_backup_last_backup_duration_seconds{cluster="prod",schedule="nightly"} 600\n',
    );
    expect(text).toContain('kots_backup_export_bytes{cluster="prod",schedule="nightly"} 1234\n');
    expect(text).toContain('kots_backup_check_down{cluster="prod",schedule="hourly",state="down"} 1\n');
    expect(text).toContain(
      `kots_backup_verify_heartbeat_timestamp_seconds{cluster="prod"} ${Date.parse("2026-03-02T08:00:00Z") / 1000}\n`,
    );
    expect(text).toContain("kots_backup_verify_runs_total 1\n");
    // Every sample line parses as `name{labels} value`.
    for (const line of text.split("\n").filter((l) => l && !l.startsWith("#"))) {
      expect(line).toMatch(
        /^[a-z_]+(\{[a-z_]+="(?:[^"\\]|\\.)*"(,[a-z_]+="(?:[^"\\]|\\.)*")*\})? -?[0-9.e+]+$/,
      );
    }
  });

  it("escapes label values", () => {
    expect(escapeLabel('a"b\\c\nd')).toBe('a\\"b\\\\c\\nd');
    expect(prometheusText({ ...figures, cluster: 'x"y' }, 1)).toContain('cluster="x\\"y"');
  });
});
