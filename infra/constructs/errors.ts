/**
 * Base of every error tapline's constructs throw for a value they cannot build from; the app entry
 * point prints these as one line instead of a stack trace, since the fix is in the config, not the code.
 */
export class InfraConfigError extends Error {}
