/* Per-thread error state behind ml_fail / ml_errmsg. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "moonlab/error.h"
#include "core/fmt.h"

static _Thread_local char ml_msg[512];
static _Thread_local int ml_code;

int ml_fail(int code, const char *fmt, ...)
{
    char msg[sizeof ml_msg]; /* the arguments may include ml_errmsg() itself */
    va_list ap;
    va_start(ap, fmt);
    ml_vformat(msg, sizeof msg, fmt, ap);
    va_end(ap);
    memcpy(ml_msg, msg, sizeof msg);
    ml_code = code;
    return code;
}

const char *ml_errmsg(void) { return ml_msg; }

int ml_errcode(void) { return ml_code; }

void ml_clear_error(void)
{
    ml_msg[0] = '\0';
    ml_code = ML_OK;
}

const char *ml_status_name(int code)
{
    static const char *const names[] = {"ML_OK", "ML_EINVAL", "ML_ENOMEM", "ML_EIO",
                                        "ML_EFORMAT", "ML_ENUMERIC", "ML_ECALLBACK", "ML_EINTR"};
    if (code < 0 || code >= (int)(sizeof names / sizeof names[0])) return "ML_UNKNOWN";
    return names[code];
}
