/* Message formatting shared by ml_fail and the Lua bindings (internal, not installed). */
#ifndef MOONLAB_CORE_FMT_H
#define MOONLAB_CORE_FMT_H

#include <stdarg.h>
#include <stddef.h>

/* vsnprintf into buf (always NUL-terminated), then every "-nan" printed by %g becomes "nan":
 * a NaN has no meaningful sign in a message. Returns the length vsnprintf reported. */
int ml_vformat(char *buf, size_t n, const char *fmt, va_list ap);
/* Rewrites "-nan" as "nan" in place (only as a word: "x = -nan," but not "co-nanny"). */
void ml_fix_nan(char *s);

#endif
