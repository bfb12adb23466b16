"""The PSFusion dataset layers: MFNet and the synthetic set inherit MSRS's and change only what
differs (files, validation split, CPU size)."""
from __future__ import annotations

from pathlib import Path

from mmengine.config import Config

CONFIGS = Path(__file__).resolve().parents[1] / 'psfusion' / 'configs'


def _datasets(cfg: Config) -> dict:
    return {name: cfg[f'{name}_dataloader'].dataset for name in ('train', 'val', 'test')}


def _crop(cfg: Config) -> tuple:
    return next(t.crop_size for t in cfg.train_dataloader.dataset.pipeline
                if t.type == 'PairedRandomCrop')


def test_msrs_holds_validation_out_of_train():
    cfg = Config.fromfile(str(CONFIGS / 'psfusion_r34_msrs.py'))
    sets = _datasets(cfg)
    assert {s.type for s in sets.values()} == {'MSRSDataset'}
    assert [sets[n].split for n in ('train', 'val', 'test')] == ['train', 'train', 'test']
    assert {s.data_root for s in sets.values()} == {'data/MSRS'}
    assert cfg.val_split == dict(fraction=0.1, seed=0)
    assert cfg.train_dataloader.batch_size == 16 and _crop(cfg) == (256, 256)


def test_mfnet_uses_its_own_files_and_val_split():
    cfg = Config.fromfile(str(CONFIGS / 'psfusion_r34_mfnet.py'))
    sets = _datasets(cfg)
    assert {s.type for s in sets.values()} == {'MFNetDataset'}
    assert [sets[n].split for n in ('train', 'val', 'test')] == ['train', 'val', 'test']
    assert {s.data_root for s in sets.values()} == {'data/MFNet'}
    assert not cfg.get('val_split')  # nothing held out of train
    assert cfg.train_dataloader.batch_size == 16 and _crop(cfg) == (256, 256)
    assert cfg.val_evaluator.type == 'FusionValMetric'


def test_synthetic_is_cpu_sized_with_val_txt():
    cfg = Config.fromfile(str(CONFIGS / 'psfusion_light_synthetic.py'))
    sets = _datasets(cfg)
    assert {s.type for s in sets.values()} == {'MSRSDataset'}
    assert sets['val'].split == 'train' and sets['val'].split_file == 'val.txt'
    assert 'split_file' not in sets['train'] and sets['test'].split == 'test'
    assert {s.data_root for s in sets.values()} == {'work_dirs/demo/data'}
    assert not cfg.get('val_split')
    assert _crop(cfg) == (96, 96)
    derive = next(t for t in sets['train'].pipeline if t.type == 'DeriveFusionLabels')
    assert tuple(derive.target_classes) == (1, 2, 3)
    for name in ('train', 'val', 'test'):
        loader = cfg[f'{name}_dataloader']
        assert (loader.batch_size, loader.num_workers, loader.persistent_workers) == (4, 0, False)



def test_fmb_has_its_files_classes_and_targets():
    from psfusion.data.layouts import FMB_CLASSES, layout_class

    cfg = Config.fromfile(str(CONFIGS / 'psfusion_r34_fmb.py'))
    sets = _datasets(cfg)
    assert {s.type for s in sets.values()} == {'FMBDataset'}
    # FMB ships train and test only: validation is held out of train, as on MSRS
    assert [sets[n].split for n in ('train', 'val', 'test')] == ['train', 'train', 'test']
    assert cfg.val_split == dict(fraction=0.1, seed=0)
    assert {s.data_root for s in sets.values()} == {'data/FMB'}
    assert cfg.model.num_classes == cfg.num_classes == len(FMB_CLASSES) == 15
    targets = tuple(layout_class('fmb').metainfo['target_classes'])
    assert [FMB_CLASSES[i] for i in targets] == ['person', 'car', 'truck', 'bus', 'motorcycle',
                                                 'bicycle']
    derive = next(t for t in sets['train'].pipeline if t.type == 'DeriveFusionLabels')
    assert tuple(derive.target_classes) == targets
    for evaluator in (cfg.val_evaluator, cfg.test_evaluator):
        assert evaluator.type == 'FusionValMetric' and evaluator.num_classes == 15
        assert tuple(evaluator.target_classes) == targets
        assert [FMB_CLASSES[i] for i in evaluator.marking_classes] == ['sidewalk', 'sign', 'pole']
    # the rest is MSRS's recipe; 2500 epochs of 1,220 pairs at batch 16
    assert cfg.train_dataloader.batch_size == 16 and _crop(cfg) == (256, 256)
    assert cfg.train_cfg.max_iters == cfg.param_scheduler[1].end == 2500 * -(-1220 // 16)


def test_fmb_model_takes_one_training_step(tmp_path):
    """The FMB config's network (15-class semantic head) and training pipeline on a tiny
    synthetic dataset written in FMB's layout."""
    import copy

    import torch
    from mmengine.dataset import pseudo_collate
    from mmengine.optim import build_optim_wrapper

    from psfusion.data.synthetic import write_synthetic_dataset
    from psfusion.engine import foreground_share
    from psfusion.registry import DATASETS, MODELS

    write_synthetic_dataset(str(tmp_path), num_train=2, num_test=2, num_val=0, height=64,
                            width=80, layout='fmb')
    cfg = Config.fromfile(str(CONFIGS / 'psfusion_r34_fmb.py'))
    cfg.model.backbone_pretrained = None  # no download here
    dataset_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    dataset_cfg.data_root = str(tmp_path)
    dataset_cfg.pipeline[2].crop_size = (32, 32)
    dataset = DATASETS.build(dataset_cfg)
    assert len(dataset) == 2 and dataset.metainfo['classes'][9] == 'car'
    batch = pseudo_collate([dataset[0], dataset[1]])
    sample = batch['data_samples'][0]  # FMB's warm objects are the targets
    targets = torch.tensor(cfg.target_classes)
    assert torch.equal(sample.gt_target.data.bool(), torch.isin(sample.gt_sem_seg.data, targets))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    assert model.num_classes == 15
    share = foreground_share([item['seg_map_path'] for item in dataset.items()], 15)
    model.loss_module.set_foreground_share(share)  # as BinaryClassWeightHook does
    model.train()
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    losses = model.train_step(batch, optim_wrapper)
    assert all(torch.isfinite(v).all() for v in losses.values())
    assert losses['loss_se'] > 0
    changed = [n for n, p in model.named_parameters() if not torch.equal(before[n], p)]
    assert any(n.startswith('encoder_ir') for n in changed)
