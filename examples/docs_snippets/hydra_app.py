# app.py: python app.py optimizer=sgd optimizer.lr=0.01, or -m optimizer.lr=0.01,0.1
import hydra
from hydra.utils import instantiate
from omegaconf import DictConfig

import pbgml.hydra  # noqa: F401  (the pbgml:// config source)


@hydra.main(version_base="1.3", config_path="hydra_app_conf", config_name="config")
def app(cfg: DictConfig) -> None:
    model = instantiate(cfg.model, in_features=4, out_features=2)
    print(type(model).__name__, cfg.optimizer.lr)


if __name__ == "__main__":
    app()
