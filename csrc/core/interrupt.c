/* The process-wide interrupt flag and progress reporting polled by long loops. */
#include <signal.h>
#include "moonlab/error.h"
#include "moonlab/runtime.h"

static volatile sig_atomic_t interrupt_flag;

int ml_interrupted(void) { return interrupt_flag != 0; }

void ml_interrupt_request(void) { interrupt_flag = 1; }

void ml_interrupt_clear(void) { interrupt_flag = 0; }

int ml_progress_tick(const ml_progress *p, double done, double total)
{
    if (p && p->fn) p->fn(p->ud, done, total);
    if (interrupt_flag) return ml_fail(ML_EINTR, "interrupted");
    return ML_OK;
}
