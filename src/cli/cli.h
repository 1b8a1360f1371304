/* cli.h — subcommands of the rocmforge binary. Each lives in its own
 * cmd_<name>.c and returns the process exit status. */
#ifndef RF_CLI_H
#define RF_CLI_H

int cmd_inspect(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_template(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_devices(int argc, char **argv);

#endif
