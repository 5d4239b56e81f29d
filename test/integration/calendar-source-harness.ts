/**
 * Shared set-up of the calendar source tests (Graph, Google, EWS), each against its emulator over
 * real HTTP: a manual clock both sides share, emulators stopped after each test, a sleeper that
 * records each retry wait and advances the clock by it (so nothing sleeps), and the OtjError a
 * call rejects with.
 */
import { afterEach, expect } from "vitest";
import type { Sleeper } from "../../calendar/request-retry.ts";
import { OtjError } from "../../core/errors.ts";

/** An external Teams meeting's join URL, as invites carry it. */
export const TEAMS_URL =
  "https://teams.microsoft.com/l/meetup-join/19%3ameeting_Zm9v%40thread.v2/0?context=%7b%22Tid%22%3a%22c0ffee00-1111-2222-3333-444455556666%22%7d";

/** Calendar time as milliseconds a test may read or set (`ms`), shared by an emulator and the source. */
export class ManualClock {
  constructor(public ms: number) {}
  now(): Date {
    return new Date(this.ms);
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}

/** What a file's `harness()` returns: the emulator, the clock, the waits slept, the client and the source. */
export interface SourceHarness<Emulator, Client, Source> {
  emu: Emulator;
  clock: ManualClock;
  sleeps: number[];
  client: Client;
  source: Source;
}

/** A list to push each started emulator into; after each test every one in it is stopped and the list emptied. */
export function stoppedAfterEach<T extends { stop(): Promise<unknown> }>(): T[] {
  const running: T[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((e) => e.stop()));
  });
  return running;
}

/** A sleeper that records each wait in `sleeps` and advances `clock` by it instead of sleeping. */
export function recordingSleeper(clock: ManualClock): { sleeps: number[]; sleep: Sleeper } {
  const sleeps: number[] = [];
  const sleep: Sleeper = async (ms, signal) => {
    signal.throwIfAborted();
    sleeps.push(ms);
    clock.advance(ms);
  };
  return { sleeps, sleep };
}

/** The OtjError `promise` rejects with; the test fails if it resolves or rejects with anything else. */
export async function rejection(promise: Promise<unknown>): Promise<OtjError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OtjError);
  return error as OtjError;
}
