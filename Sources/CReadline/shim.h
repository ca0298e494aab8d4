// GNU readline for the tutor's REPL. Swift cannot see readline's global
// variables safely under strict concurrency, so they are set here.
#include <stdio.h>
#include <readline/readline.h>
#include <readline/history.h>

static inline void skiff_rl_setup(const char *name, rl_completion_func_t *complete) {
    rl_readline_name = name;
    rl_attempted_completion_function = complete;
    rl_catch_signals = 0;     /* our SIGINT handler: the REPL polls its input itself */
    rl_catch_sigwinch = 1;
    rl_basic_word_break_characters = " \t\n\"'";
}

/* Called from a completion function: no filename completion as a fallback. */
static inline void skiff_rl_completion_over(void) { rl_attempted_completion_over = 1; }

static inline const char *skiff_rl_line(void) { return rl_line_buffer ? rl_line_buffer : ""; }

/* Ctrl-C at the prompt (callback interface): drop what was typed... */
static inline void skiff_rl_cancel_line(void) {
    rl_free_line_state();
    rl_callback_sigcleanup();
    rl_replace_line("", 0);
    rl_point = rl_end = 0;
}

/* ...and show the prompt again on a new line. */
static inline void skiff_rl_fresh_prompt(void) {
    rl_on_new_line();
    rl_redisplay();
}

static inline void skiff_rl_set_history_size(int n) { stifle_history(n); }
