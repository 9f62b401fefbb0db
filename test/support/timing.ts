/**
 * The one bound the specs put on "at once": an abort that rejects, a refusal, a deadline that fires
 * (on top of the deadline itself), a server that sees its client go away.
 *
 * The tests run on busy, shared machines (CI: 2 cores, several test files at once), where a process
 * can be stalled for hundreds of milliseconds at a time; a bound of 100-500 ms then fails now and
 * then with nothing wrong. So the bound is generous, and each test makes the outcome it rules out
 * (the call that was not cancelled, the wait that was not skipped, the deadline that did not fire)
 * take several seconds, or hang: a wide gap between "at once" and "ran on", whatever the load.
 */
export const AT_ONCE_MS = 1_000;
