/** The text that replaces a password wherever one would be shown. */
export const passwordMask = '********'

/**
 * Returns a function that masks every occurrence of `password` (also URL-encoded) in a text, so log lines and
 * error messages never reveal it.
 */
export function createRedactor(password: string): (text: string) => string {
  const forms = [...new Set([password, encodeURIComponent(password)])].filter((form) => form.length > 0)
  return (text) => forms.reduce((masked, form) => masked.split(form).join(passwordMask), text)
}

/** Replaces the password of a `postgres://` URL by {@link passwordMask}; other text is returned unchanged. */
export function redactUrl(url: string): string {
  return url.replace(/^(postgres(?:ql)?:\/\/[^:/@]*:)[^@]*@/, `$1${passwordMask}@`)
}
