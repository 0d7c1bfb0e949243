# This root takes no input variables: its settings are the arguments of the module call in main.tf.
