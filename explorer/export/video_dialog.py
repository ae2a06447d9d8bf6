"""Export a video: keyframes from favourites (smooth cubic or linear path in w, optionally
looping back to the first), or a sweep of one direction on the current picture. Renders in the
background with progress and cancel; mp4, gif or a folder of png frames (by the file name)."""
import os

from PyQt6.QtCore import QSize, Qt
from PyQt6.QtWidgets import (QButtonGroup, QCheckBox, QComboBox, QDialog, QDoubleSpinBox, QFormLayout,
                             QGroupBox, QHBoxLayout, QLabel, QLineEdit, QListWidget, QListWidgetItem, QRadioButton,
                             QSpinBox, QVBoxLayout)

from core.request import Latent
from explorer.file_dialogs import model_stem
from explorer.widgets import JobBar, button_row, icon_from_array, message, push_button

VIDEO_FILTER = 'MP4 video (*.mp4);;Animated GIF (*.gif);;Folder of PNG frames (*)'


class VideoDialog(QDialog):
    def __init__(self, model, client, files, parent=None):
        super().__init__(parent)
        self.files = files
        self.setWindowTitle('Export video')
        self.model = model
        self.client = client
        self.job = None
        self.written = None
        info = model.network or dict(resolution=256)
        state = model.state

        self.keyframes_radio = QRadioButton('Keyframes from favourites')
        self.sweep_radio = QRadioButton('Direction sweep on the current picture')
        self.mode_group = QButtonGroup(self)
        self.mode_group.addButton(self.keyframes_radio)
        self.mode_group.addButton(self.sweep_radio)

        self.favourites_list = QListWidget()
        self.favourites_list.setToolTip('Ticked favourites are the keyframes, in this order')
        self.favourites_list.setIconSize(QSize(40, 40))
        self.favourites_list.setMaximumHeight(150)
        for fav in model.favourites:
            item = QListWidgetItem(fav.name)
            if fav.thumbnail is not None:
                item.setIcon(icon_from_array(fav.thumbnail, 40))
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
            self.favourites_list.addItem(item)
        self.interp_combo = QComboBox()
        self.interp_combo.addItems(['cubic', 'lerp'])
        self.interp_combo.setToolTip('cubic: a smooth curve through every keyframe; lerp: straight lines in w')
        self.loop_box = QCheckBox('loop (back to the first keyframe)')
        self.loop_box.setChecked(True)
        keyframes_box = QGroupBox()
        kf = QFormLayout(keyframes_box)
        kf.addRow(self.favourites_list)
        kf.addRow('Path', self.interp_combo)
        kf.addRow(self.loop_box)

        self.direction_combo = QComboBox()
        directions = state.directions
        for k, name in enumerate([] if directions is None else directions.names):
            if not directions.is_style_channel(k):  # a sweep moves w; StyleSpace channels move s
                self.direction_combo.addItem(name)
        self.amount_spin = QDoubleSpinBox()
        self.amount_spin.setRange(0.1, 20.0)
        self.amount_spin.setSingleStep(0.5)
        self.amount_spin.setValue(3.0)
        self.amount_spin.setToolTip('The sweep goes from -amount to +amount and back (slider units); it always loops')
        sweep_box = QGroupBox()
        sw = QFormLayout(sweep_box)
        sw.addRow('Direction', self.direction_combo)
        sw.addRow('Amount (±)', self.amount_spin)

        self.fps_spin = QSpinBox()
        self.fps_spin.setRange(1, 120)
        self.fps_spin.setValue(30)
        self.duration_spin = QDoubleSpinBox()
        self.duration_spin.setRange(0.1, 600)
        self.duration_spin.setValue(4.0)
        self.duration_spin.setSuffix(' s')
        self.size_combo = QComboBox()
        res = info['resolution']
        for size in sorted({res} | {s for s in (128, 256, 512, 1024) if s <= max(2 * res, 256)}):
            self.size_combo.addItem(f'{size} px' + (' (native)' if size == res else ''), size)
        self.size_combo.setCurrentIndex(self.size_combo.findData(res))
        self.quality_spin = QSpinBox()
        self.quality_spin.setRange(1, 10)
        self.quality_spin.setValue(8)
        self.quality_spin.setToolTip('mp4 quality: 1 = smallest file, 10 = best')
        self.path_edit = QLineEdit(os.path.join(files.folder('video'), f'{model_stem(info)}-video.mp4'))
        self.browse_button = push_button('Browse...', self.browse)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(self.browse_button)
        common = QFormLayout()
        common.addRow('Frames per second', self.fps_spin)
        common.addRow('Duration', self.duration_spin)
        common.addRow('Size', self.size_combo)
        common.addRow('Quality', self.quality_spin)
        common.addRow('Output', path_row)

        self.job_bar = JobBar()
        self.result_label = QLabel()
        self.result_label.setWordWrap(True)
        self.export_button = push_button('Export', lambda: self.export(), default=True)
        self.close_button = push_button('Close', self.close)
        buttons = button_row(self.export_button, self.close_button)

        layout = QVBoxLayout(self)
        layout.addWidget(self.keyframes_radio)
        layout.addWidget(keyframes_box)
        layout.addWidget(self.sweep_radio)
        layout.addWidget(sweep_box)
        layout.addLayout(common)
        layout.addWidget(self.job_bar)
        layout.addWidget(self.result_label)
        layout.addLayout(buttons)
        self.keyframes_box, self.sweep_box = keyframes_box, sweep_box
        self.keyframes_radio.toggled.connect(self._mode_changed)
        has_favs = len(model.favourites) >= 2
        (self.keyframes_radio if has_favs or directions is None else self.sweep_radio).setChecked(True)
        self.sweep_radio.setEnabled(directions is not None)
        self._mode_changed()
        self._restore_settings()
        self.resize(460, 600)

    def _mode_changed(self):
        keyframes = self.keyframes_radio.isChecked()
        self.keyframes_box.setEnabled(keyframes)
        self.sweep_box.setEnabled(not keyframes)

    def browse(self):
        name = os.path.basename(self.path_edit.text())
        path, _ = self.files.save_file(self, 'video', 'Export video', VIDEO_FILTER, name)
        if path:
            self.path_edit.setText(path)

    # -- settings kept between dialogs (QSettings 'video/...')
    def _restore_settings(self):
        s = self.files.settings
        self.interp_combo.setCurrentText(s.value('video/interp', self.interp_combo.currentText(), type=str))
        self.loop_box.setChecked(s.value('video/loop', self.loop_box.isChecked(), type=bool))
        self.amount_spin.setValue(s.value('video/amount', self.amount_spin.value(), type=float))
        self.fps_spin.setValue(s.value('video/fps', self.fps_spin.value(), type=int))
        self.duration_spin.setValue(s.value('video/duration', self.duration_spin.value(), type=float))
        self.quality_spin.setValue(s.value('video/quality', self.quality_spin.value(), type=int))
        size = self.size_combo.findData(s.value('video/size', -1, type=int))
        if size >= 0:
            self.size_combo.setCurrentIndex(size)
        suffix = s.value('video/format', '', type=str)  # the container last written: .mp4, .gif or '' (png frames)
        if suffix in ('.mp4', '.gif', ''):
            stem = os.path.splitext(self.path_edit.text())[0]
            self.path_edit.setText(stem + suffix)

    def _store_settings(self):
        s = self.files.settings
        s.setValue('video/interp', self.interp_combo.currentText())
        s.setValue('video/loop', self.loop_box.isChecked())
        s.setValue('video/amount', self.amount_spin.value())
        s.setValue('video/fps', self.fps_spin.value())
        s.setValue('video/duration', self.duration_spin.value())
        s.setValue('video/quality', self.quality_spin.value())
        s.setValue('video/size', self.size_combo.currentData())
        suffix = os.path.splitext(self.path_edit.text())[1].lower()
        s.setValue('video/format', suffix if suffix in ('.mp4', '.gif') else '')
        self.files.remember('video', self.path_edit.text())

    def keyframes(self):
        return [Latent(w=fav.ws) for i, fav in enumerate(self.model.favourites)
                if self.favourites_list.item(i).checkState() == Qt.CheckState.Checked]

    def export(self):
        if self.job is not None and not self.job.done:
            return self.job
        state = self.model.state
        params = dict(out=self.path_edit.text().strip(), fps=float(self.fps_spin.value()),
                      duration=float(self.duration_spin.value()), psi=state.psi, cutoff=state.cutoff,
                      class_idx=state.class_idx, noise=state.noise, size=self.size_combo.currentData(),
                      quality=self.quality_spin.value())
        if self.keyframes_radio.isChecked():
            params.update(mode='keyframes', keyframes=self.keyframes(), interp=self.interp_combo.currentText(),
                          loop=self.loop_box.isChecked())
        else:
            d = state.directions
            k = d.index(self.direction_combo.currentText())
            base = state.request()
            params.update(mode='sweep', base=base, noise=base.noise,  # a projected w's noise maps too
                          sweep=dict(vector=d.edit_vector(k), scale=float(d.scales[k]), start=int(d.layer_start[k]),
                                     end=int(d.layer_end[k]), amount=float(self.amount_spin.value())))
        self.result_label.setText('')
        self._store_settings()
        self.job = self.client.submit('video', **params)
        self.job_bar.attach(self.job, 'Rendering video')
        self.job.finished.connect(self._written)
        self.job.failed.connect(lambda text: message(self, 'Export video', text))
        self.job.cancelled.connect(lambda: self.result_label.setText('Cancelled: nothing was written.'))
        self.job.ended.connect(lambda: self.export_button.setEnabled(True))
        self.export_button.setEnabled(False)
        return self.job

    def _written(self, path):
        self.written = path
        self.result_label.setText(f'Wrote {path}')

    def closeEvent(self, event):
        if self.job is not None and not self.job.done:
            self.job.cancel()
        super().closeEvent(event)
