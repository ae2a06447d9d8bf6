"""Which files hold networks, by name: for file dialogs and drag and drop (the explorer takes
them from here without loading torch). core.model_io itself recognises a file by its content,
so a renamed file opens too."""

OPEN_EXTENSIONS = ('.pkl', '.pickle', '.pt', '.pth', '.safetensors')
OPEN_FILTER = 'Networks (*.pkl *.pickle *.pt *.pth *.safetensors);;All files (*)'
