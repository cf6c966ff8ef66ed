/* moonlab — status codes and the per-thread error message. */
#ifndef MOONLAB_ERROR_H
#define MOONLAB_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

/* Every fallible library function returns one of these; ML_OK is 0. */
typedef enum {
    ML_OK = 0,
    ML_EINVAL,    /* bad argument: shape, dtype, range */
    ML_ENOMEM,    /* allocation failed or size overflows */
    ML_EIO,       /* file could not be read or written */
    ML_EFORMAT,   /* malformed file contents */
    ML_ENUMERIC,  /* non-finite value or failed convergence */
    ML_ECALLBACK, /* a user callback failed (message set by the caller) */
    ML_EINTR      /* interrupted by the user (Ctrl-C), see ml_progress_tick */
} ml_status;

/* Records a printf-style message for the calling thread and returns code. */
int ml_fail(int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Message of the last failure on this thread ("" when none). */
const char *ml_errmsg(void);

/* Code of the last failure on this thread (ML_OK when none). */
int ml_errcode(void);

/* Forgets the last failure on this thread. */
void ml_clear_error(void);

/* Short name of a status code ("ML_EINVAL"). */
const char *ml_status_name(int code);

#ifdef __cplusplus
}
#endif
#endif
