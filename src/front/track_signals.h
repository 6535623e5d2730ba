/* The tracker's handlers for the signals that end a program (see
 * track_signals.c). */
#ifndef REHEAP_FRONT_TRACK_SIGNALS_H
#define REHEAP_FRONT_TRACK_SIGNALS_H

/* Installs them where the program left the default: report() runs first,
 * then the signal does what it would have done. */
__attribute__((visibility("hidden"))) void track_signals_catch(void (*report)(void));
/* Gives the program back the defaults (a forked child writes no report). */
__attribute__((visibility("hidden"))) void track_signals_forget(void);

#endif
