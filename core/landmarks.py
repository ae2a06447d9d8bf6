"""Automatic face landmarks for the projection's alignment: the optional extra `landmarks`
(`pip install 'stylescope[landmarks]'`, MediaPipe 0.10.14). No torch, no Qt.

Why that package and version: MediaPipe's Face Mesh (legacy `mediapipe.solutions.face_mesh`)
ships its detector and landmark models inside the wheel (mediapipe/modules/face_detection/
face_detection_short_range.tflite, mediapipe/modules/face_landmark/face_landmark.tflite,
Apache-2.0), so it runs offline. MediaPipe 1.x dropped that API: its FaceLandmarker needs a
separately downloaded .task file. face-alignment, insightface and retinaface download their
weights at run time; dlib's 68-point model (face-recognition-models) is for non-commercial use
only, and its free 5-point model has no mouth.

`detect(img)` returns the four points core.align takes (left eye, right eye, left mouth corner,
right mouth corner; left and right as you look at the photo; photo pixel coordinates) or None
when no face is found. Eye points are the mean of each eye's contour landmarks, mouth corners the
mesh's lip corners (61 and 291). The user can still correct them (the projection dialog shows them
as clicked points).
"""
import numpy as np

from core.errors import StylescopeError

EXTRA = "pip install 'stylescope[landmarks]'"
# Face Mesh indices. The mesh names eyes from the subject's side: its "right eye" is on the left of
# the photo, which is core.align's "left eye" (as you look at the photo).
PHOTO_LEFT_EYE = (33, 133, 160, 159, 158, 144, 145, 153)
PHOTO_RIGHT_EYE = (263, 362, 387, 386, 385, 373, 374, 380)
PHOTO_LEFT_MOUTH, PHOTO_RIGHT_MOUTH = 61, 291
MAX_SIDE = 1024  # the photo is shrunk to this for detection (the mesh works at 192 px anyway)


def _face_mesh():
    try:
        from mediapipe.python.solutions import face_mesh
    except ImportError:
        return None
    return face_mesh


def available():
    """Is the optional landmark detector installed?"""
    return _face_mesh() is not None


def detect(img):
    """Four landmarks [4, 2] (float64, photo pixels) of the most prominent face in `img` (a PIL
    image or uint8 HWC array), or None when there is no face."""
    face_mesh = _face_mesh()
    if face_mesh is None:
        raise StylescopeError(f'automatic landmarks need the optional MediaPipe detector: {EXTRA}, or click the four '
                              'points (or give --landmarks X,Y,...)')
    array = np.asarray(img.convert('RGB')) if hasattr(img, 'convert') else np.asarray(img)
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    array = np.ascontiguousarray(array[..., :3], dtype=np.uint8)
    h, w = array.shape[:2]
    scale = min(1.0, MAX_SIDE / max(h, w))
    if scale < 1:
        import PIL.Image
        array = np.asarray(PIL.Image.fromarray(array).resize((max(1, round(w * scale)), max(1, round(h * scale))),
                                                             PIL.Image.BILINEAR))
    with face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=False,
                            min_detection_confidence=0.5) as mesh:
        found = mesh.process(array)
    faces = getattr(found, 'multi_face_landmarks', None)
    if not faces:
        return None
    marks = faces[0].landmark
    sh, sw = array.shape[:2]

    def point(indices):
        xy = np.array([[marks[i].x * sw, marks[i].y * sh] for i in indices], dtype=np.float64).mean(axis=0)
        return xy / scale - 0.5  # normalised (edge) units -> pixel centres of the full-size photo

    points = np.stack([point(PHOTO_LEFT_EYE), point(PHOTO_RIGHT_EYE), point((PHOTO_LEFT_MOUTH,)),
                       point((PHOTO_RIGHT_MOUTH,))])
    points[:, 0] = points[:, 0].clip(0, w - 1)
    points[:, 1] = points[:, 1].clip(0, h - 1)
    return points
