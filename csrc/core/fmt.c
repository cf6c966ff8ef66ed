/* Message formatting shared by ml_fail and the Lua bindings. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include "core/fmt.h"

static int wordch(char c) { return isalnum((unsigned char)c) || c == '_'; }

void ml_fix_nan(char *s)
{
    for (char *p = strstr(s, "-nan"); p; p = strstr(p, "-nan")) {
        if ((p == s || !wordch(p[-1])) && !wordch(p[4])) memmove(p, p + 1, strlen(p + 1) + 1);
        else p++;
    }
}

int ml_vformat(char *buf, size_t n, const char *fmt, va_list ap)
{
    int len = vsnprintf(buf, n, fmt, ap);
    if (n) {
        if (len < 0) buf[0] = '\0';
        ml_fix_nan(buf);
    }
    return len;
}
