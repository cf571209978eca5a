/**
 * The settings of the deployment are incomplete or malformed: the message names the variable or
 * the spec field to fix, and never holds a secret (a URL with a password, a secret's value).
 */
export class PortConfigurationError extends Error {
  override name = 'PortConfigurationError';
}
