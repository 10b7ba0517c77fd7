import { describe, expect, it } from "vitest";
import {
  FAILED_PHASES,
  isTerminalPhase,
  kotsStatusOf,
  phaseOf,
  TERMINAL_PHASES,
  VeleroPhase,
} from "./velero.ts";

describe("Velero phases", () => {
  it("lists the 13 phases of Velero v1.18", () => {
    expect(Object.keys(VeleroPhase)).toHaveLength(13);
  });

  it("treats exactly Completed, PartiallyFailed, Failed and FailedValidation as terminal", () => {
    expect([...TERMINAL_PHASES].sort()).toEqual([
      "Completed",
      "Failed",
      "FailedValidation",
      "PartiallyFailed",
    ]);
    expect(isTerminalPhase("Finalizing")).toBe(false);
    expect([...FAILED_PHASES].every(isTerminalPhase)).toBe(true);
  });

  it("reads an empty or missing phase as New", () => {
    expect(phaseOf({ status: { phase: "" } })).toBe("New");
    expect(phaseOf({})).toBe("New");
  });

  it.each([
    ["New", "InProgress"],
    ["Queued", "InProgress"],
    ["ReadyToStart", "InProgress"],
    ["InProgress", "InProgress"],
    ["WaitingForPluginOperations", "InProgress"],
    ["WaitingForPluginOperationsPartiallyFailed", "Failed"],
    ["Finalizing", "InProgress"],
    ["FinalizingPartiallyFailed", "Failed"],
    ["Completed", "Completed"],
    ["PartiallyFailed", "Failed"],
    ["Failed", "Failed"],
    ["FailedValidation", "Failed"],
    ["Deleting", "Deleting"],
    ["SomethingNew", "InProgress"],
  ])("maps phase %s to KOTS status %s", (phase, status) => {
    expect(kotsStatusOf(phase)).toBe(status);
  });
});
