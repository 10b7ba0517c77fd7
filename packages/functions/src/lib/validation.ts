// Event validation before any side effect: @middy/validator against the JSON Schema generated from core's
// zod schema (ajv, compiled once per container), then, for a rejected event, the same zod schema to name
// the field (ajv's errors for a union list every branch's complaint). The work only ever sees valid events.
import { InputError } from "@kots-backup/core";
import type { MiddlewareObj } from "@middy/core";
import validator from "@middy/validator";
import { transpileSchema } from "@middy/validator/transpile";
import type { Context } from "aws-lambda";

interface AjvIssue {
  instancePath?: string;
  message?: string;
  params?: Record<string, unknown>;
}

/** Ajv settings: validate as written (no type coercion, no defaults filled in). */
const AJV_OPTIONS = { coerceTypes: false, useDefaults: false, removeAdditional: false } as const;

function fallbackError(issues: AjvIssue[] | undefined): InputError {
  const issue = issues?.[0];
  const extra = issue?.params?.["additionalProperty"];
  const missing = issue?.params?.["missingProperty"];
  const base = (issue?.instancePath ?? "").replace(/^\//, "").replaceAll("/", ".");
  const field =
    typeof extra === "string" || typeof missing === "string"
      ? [base, String(extra ?? missing)].filter(Boolean).join(".")
      : base;
  return new InputError("invalid-event", `${field || "event"}: ${issue?.message ?? "is invalid"}`, {
    ...(field ? { field } : {}),
  });
}

/**
 * Validates the event against `jsonSchema` (middy's validator) and turns a rejection into the
 * InputError `parse` raises for the same event (it names the field).
 */
export function validateEvent<TEvent, TResult>(
  jsonSchema: Record<string, unknown>,
  parse: (event: unknown) => unknown,
): MiddlewareObj<TEvent, TResult, Error, Context>[] {
  const eventSchema = transpileSchema(jsonSchema, AJV_OPTIONS);
  const naming: MiddlewareObj<TEvent, TResult, Error, Context> = {
    onError: (request) => {
      const error = request.error as (Error & { cause?: { package?: string; data?: AjvIssue[] } }) | null;
      if (error?.cause?.package !== "@middy/validator") return;
      try {
        parse(request.event);
      } catch (named) {
        if (named instanceof InputError) {
          request.error = named;
          return;
        }
      }
      request.error = fallbackError(error.cause.data);
    },
  };
  return [naming, validator({ eventSchema }) as MiddlewareObj<TEvent, TResult, Error, Context>];
}
