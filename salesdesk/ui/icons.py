"""Icons drawn with QPainter in the palette's own text colour.

Drawn rather than loaded so they follow a light or dark theme and stay sharp
at any device pixel ratio, with no image files to ship.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPixmap


def bell_icon(color: QColor, size: int = 20, ratio: float = 2.0) -> QIcon:
    """A bell outline, ``size`` logical pixels square, drawn at ``ratio`` for high DPI."""
    pixmap = QPixmap(int(size * ratio), int(size * ratio))
    pixmap.setDevicePixelRatio(ratio)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(color)
    s = size / 20.0
    body = QPainterPath()
    body.moveTo(QPointF(4 * s, 14.5 * s))
    body.cubicTo(QPointF(5.5 * s, 12.5 * s), QPointF(5 * s, 10 * s), QPointF(5.5 * s, 7.5 * s))
    body.cubicTo(QPointF(6.2 * s, 4.5 * s), QPointF(8 * s, 3 * s), QPointF(10 * s, 3 * s))
    body.cubicTo(QPointF(12 * s, 3 * s), QPointF(13.8 * s, 4.5 * s), QPointF(14.5 * s, 7.5 * s))
    body.cubicTo(QPointF(15 * s, 10 * s), QPointF(14.5 * s, 12.5 * s), QPointF(16 * s, 14.5 * s))
    body.closeSubpath()
    painter.drawPath(body)
    painter.drawRoundedRect(QRectF(3.2 * s, 14 * s, 13.6 * s, 1.8 * s), 0.9 * s, 0.9 * s)
    painter.drawEllipse(QPointF(10 * s, 17.4 * s), 1.7 * s, 1.7 * s)
    painter.drawEllipse(QPointF(10 * s, 2.6 * s), 1.1 * s, 1.1 * s)
    painter.end()
    return QIcon(pixmap)
