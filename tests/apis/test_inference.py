"""init_segmentor / inference_segmentor / show_result against hand-computed results."""
import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmseg_ddrnet.apis import inference_segmentor, init_segmentor, show_result, show_result_pyplot
from mmseg_ddrnet.config import Config
from mmseg_ddrnet.checkpoint import get_state_dict, save_checkpoint
from mmseg_ddrnet.models import build_segmentor
from mmseg_ddrnet.utils import CheckpointError, ConfigError, DataError

MEAN, STD = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]
CONFIG = f'''
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    type='EncoderDecoder', pretrained='pretrained/does_not_exist.pth',
    backbone=dict(type='DDRNet', extra=dict(layers=[1, 1, 1, 1], planes=8, spp_planes=16), norm_cfg=norm_cfg),
    decode_head=dict(type='DDRHead', in_channels=32, channels=16, num_classes=5, norm_cfg=norm_cfg),
    train_cfg=dict(), test_cfg=dict(mode='whole'))
img_norm_cfg = dict(mean={MEAN}, std={STD}, to_rgb=True)
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiScaleFlipAug', img_scale=IMG_SCALE, flip=False,
         transforms=[dict(type='Resize', keep_ratio=True), dict(type='RandomFlip'),
                     dict(type='Normalize', **img_norm_cfg), dict(type='ImageToTensor', keys=['img']),
                     dict(type='Collect', keys=['img'])])]
data = dict(test=dict(type='CamVidDataset', data_root='unused', img_dir='val', ann_dir='valannot',
                      pipeline=test_pipeline))
'''
CLASSES = ['a', 'b', 'c', 'd', 'e']
PALETTE = [[10, 20, 30], [40, 50, 60], [70, 80, 90], [100, 110, 120], [130, 140, 150]]


def _write_config(tmp_path, img_scale=(64, 48)):
    path = tmp_path / 'cfg.py'
    path.write_text(CONFIG.replace('IMG_SCALE', repr(img_scale)))
    return path


def _write_checkpoint(tmp_path, config_path, seed=0):
    torch.manual_seed(seed)
    cfg = Config.fromfile(str(config_path))
    cfg.model.pretrained = None
    model = build_segmentor(cfg.model)
    for m in model.modules():  # non-trivial BN statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    path = tmp_path / 'model.pth'
    save_checkpoint({'meta': {'CLASSES': CLASSES, 'PALETTE': PALETTE}, 'state_dict': get_state_dict(model)}, path)
    return path


@pytest.fixture
def segmentor(tmp_path):
    config = _write_config(tmp_path)
    return init_segmentor(config, _write_checkpoint(tmp_path, config))


def _image(h=48, w=64, seed=0):
    return np.random.RandomState(seed).randint(0, 256, (h, w, 3), dtype=np.uint8)


def test_init_segmentor(segmentor):
    assert not segmentor.training and segmentor.CLASSES == CLASSES and segmentor.PALETTE == PALETTE
    assert segmentor.cfg.model.pretrained is None and segmentor.cfg.model.train_cfg is None
    assert next(segmentor.parameters()).device.type == 'cpu'


def test_init_without_checkpoint_takes_the_dataset_classes(tmp_path):
    config = Config.fromfile(str(_write_config(tmp_path)))
    model = init_segmentor(config, cfg_options={'model.decode_head.num_classes': 11})
    assert model.decode_head.num_classes == 11 and len(model.CLASSES) == 11  # CamVid's


def test_inference_matches_a_hand_made_forward(segmentor, tmp_path):
    img = _image()
    x = (img[..., ::-1].astype(np.float32) - MEAN) / STD  # BGR -> RGB, normalise; img_scale fits: no resize
    with torch.no_grad():
        logits = segmentor.forward_dummy(torch.from_numpy(x.transpose(2, 0, 1).copy())[None].float())
    expected = logits.argmax(1)[0].numpy()
    result = inference_segmentor(segmentor, img)
    assert isinstance(result, list) and len(result) == 1
    assert result[0].shape == (48, 64) and result[0].dtype == np.int64
    assert (result[0] == expected).mean() > 0.999  # bilinear vs resize-argmax ties at most
    cv2.imwrite(str(tmp_path / 'img.png'), img)
    from_file = inference_segmentor(segmentor, [str(tmp_path / 'img.png'), img])
    assert len(from_file) == 2 and np.array_equal(from_file[0], result[0]) and np.array_equal(from_file[1], result[0])


def test_inference_resizes_back_to_the_original_size(tmp_path):
    config = _write_config(tmp_path, img_scale=(32, 24))
    model = init_segmentor(config, _write_checkpoint(tmp_path, config))
    results = inference_segmentor(model, [_image(48, 64), _image(30, 50, seed=1)])
    assert [r.shape for r in results] == [(48, 64), (30, 50)]
    assert all(r.min() >= 0 and r.max() < 5 for r in results)
    # by hand for the first: halved to 32x24 (cv2 bilinear); the 1/8 logits (3x4) bilinearly resized to the
    # input's 24x32, then to 48x64 (mmseg 0.x's order), argmax
    small = cv2.resize(_image(48, 64), (32, 24), interpolation=cv2.INTER_LINEAR)
    x = torch.from_numpy(((small[..., ::-1].astype(np.float32) - MEAN) / STD).transpose(2, 0, 1).copy())[None]
    with torch.no_grad():
        low = model.decode_head(model.extract_feat(x.float()))
        at_input = F.interpolate(low, size=(24, 32), mode='bilinear', align_corners=False)
        expected = F.interpolate(at_input, size=(48, 64), mode='bilinear', align_corners=False).argmax(1)[0].numpy()
    assert low.shape[2:] == (3, 4)
    np.testing.assert_array_equal(results[0], expected)


def test_inference_errors(segmentor, tmp_path):
    with pytest.raises(DataError, match='HxWx3 uint8'):
        inference_segmentor(segmentor, np.zeros((8, 8), np.uint8))
    with pytest.raises(DataError, match='HxWx3 uint8'):
        inference_segmentor(segmentor, np.zeros((8, 8, 3), np.float32))
    with pytest.raises(DataError, match='missing.png'):
        inference_segmentor(segmentor, str(tmp_path / 'missing.png'))
    with pytest.raises(ConfigError, match='init_segmentor'):
        inference_segmentor(torch.nn.Conv2d(3, 3, 1), _image())
    segmentor.cfg.data.test.pipeline = segmentor.cfg.data.test.pipeline[1:]
    with pytest.raises(ConfigError, match='LoadImageFromFile.*MultiScaleFlipAug'):
        inference_segmentor(segmentor, _image())


def test_init_errors(tmp_path):
    config = _write_config(tmp_path)
    with pytest.raises(CheckpointError, match='nope.pth'):
        init_segmentor(config, tmp_path / 'nope.pth')
    with pytest.raises(ConfigError, match='config must be a file path or a Config'):
        init_segmentor(dict(model=dict()))
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match='CUDA is not available'):
            init_segmentor(config, device='cuda:0')


def test_show_result_blends_the_palette(segmentor, tmp_path):
    img = np.full((4, 6, 3), 100, np.uint8)
    seg = np.zeros((4, 6), np.int64)
    seg[:, 3:] = 1
    seg[0, 0] = 255  # no colour: the image stays
    palette = [[255, 0, 0], [0, 0, 255]]  # RGB
    out = show_result(segmentor, img, [seg], palette=palette, opacity=0.25, out_file=tmp_path / 'o' / 'x.png')
    assert out[1, 0].tolist() == [75, 75, 139]  # BGR: red blended at 1/4 over grey 100
    assert out[1, 4].tolist() == [139, 75, 75]
    assert out[0, 0].tolist() == [100, 100, 100]
    assert np.array_equal(cv2.imread(str(tmp_path / 'o' / 'x.png')), out)
    default = show_result(segmentor, img, seg, opacity=1.0)  # model.PALETTE
    assert default[1, 0].tolist() == PALETTE[0][::-1]
    with pytest.raises(ConfigError, match='opacity'):
        show_result(segmentor, img, seg, opacity=0)
    with pytest.raises(DataError, match='differ in size'):
        show_result(segmentor, img, seg[:2])


def test_show_result_pyplot(segmentor, monkeypatch):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    shown = []
    monkeypatch.setattr(plt, 'show', lambda block=True: shown.append(block))
    img = _image(8, 8)
    painted = show_result_pyplot(segmentor, img, [np.zeros((8, 8), np.int64)], title='t', block=False)
    assert shown == [False] and painted.shape == (8, 8, 3)
    plt.close('all')


def test_end_to_end_on_a_camvid_image(camvid_root, segmentor, tmp_path):
    path = sorted((camvid_root / 'val').glob('*.png'))[0]
    image = cv2.imread(str(path))
    result = inference_segmentor(segmentor, str(path))[0]
    assert result.shape == image.shape[:2]
    painted = show_result(segmentor, str(path), result, out_file=tmp_path / 'painted.png')
    assert painted.shape == image.shape and (tmp_path / 'painted.png').is_file()


def test_shipped_config_with_a_converted_official_checkpoint(camvid_root, repo_root, tmp_path):
    """tools/convert_checkpoint.py output + a shipped recipe (SyncBN, aux head, pretrained path) → inference."""
    import sys
    sys.path.insert(0, str(repo_root / 'tests' / 'models'))
    from official_layout import official_state_dict

    from mmseg_ddrnet.models.convert import convert_checkpoint
    torch.save(official_state_dict('slim', prefix='model.'), tmp_path / 'official.pth')
    convert_checkpoint(tmp_path / 'official.pth', tmp_path / 'ddrnet.pth', 'official')
    config = repo_root / 'configs' / 'ddrnet' / 'ddrnet_23_slim_1024x1024_120k_cityscapes.py'
    model = init_segmentor(config, tmp_path / 'ddrnet.pth',
                           cfg_options={'data.test.pipeline.1.img_scale': (256, 128)})  # small and fast
    assert model.CLASSES[0] == 'road' and model.cfg.model.pretrained is None
    path = sorted((camvid_root / 'val').glob('*.png'))[0]
    result = inference_segmentor(model, str(path))[0]
    assert result.shape == cv2.imread(str(path)).shape[:2] and 0 <= result.min() and result.max() < 19
