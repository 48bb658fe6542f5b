"""pbgml's packaged Hydra configs (presets): ``initialize_config_module("pbgml.conf")`` reads them."""
